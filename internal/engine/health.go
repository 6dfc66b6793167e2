package engine

import (
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
)

// Liveness and readiness are different questions (docs/deploy.md, "Health"):
//   - Alive: the sidecar serves a generation of outputs, written by this process or found
//     complete on the volume when it started. Staleness never makes it false: an
//     orchestrator acting on liveness kills, and a killed sidecar cannot fetch either.
//   - Ready: that generation is fresh, within max_staleness. Staleness is an alert
//     (patas_secrets_staleness_seconds), not a kill.

// adoptOutputs counts outputs a previous run left on the volume as the last good
// generation, so a sidecar restarted during a backend outage is alive at once. Every
// output must be there (a regular non-empty file, or the directory of a files output); the
// generation's time is the oldest modification time, an upper bound of its staleness (an
// unchanged output is not rewritten). Nothing is read: the files stay as they are.
func (e *Engine) adoptOutputs() {
	if e.lastOK.Load() != 0 || len(e.sinks) == 0 {
		return
	}
	var oldest time.Time
	for _, s := range e.sinks {
		st, err := os.Lstat(s.Path())
		if err != nil || !(st.Mode().IsRegular() && st.Size() > 0 || st.IsDir()) {
			return
		}
		if oldest.IsZero() || st.ModTime().Before(oldest) {
			oldest = st.ModTime()
		}
	}
	if oldest.After(time.Now()) {
		oldest = time.Now() // a clock that jumped back must not make them look fresher than now
	}
	e.adopted.Store(oldest.UnixNano())
	e.log.Info("outputs of a previous run found; serving them until the first refresh",
		zap.Int("outputs", len(e.sinks)), zap.Time("changed_at", oldest))
}

// Alive reports whether a generation of outputs is being served, with the reason when not.
// Safe from any goroutine.
func (e *Engine) Alive() (bool, string) {
	if ok := e.lastOK.Load(); ok != 0 {
		return true, "serving outputs refreshed " + since(ok) + " ago"
	}
	if a := e.adopted.Load(); a != 0 {
		return true, "serving the outputs of a previous run, changed " + since(a) + " ago; not refreshed since start"
	}
	return false, "outputs not written yet"
}

func since(unixNano int64) string {
	return time.Since(time.Unix(0, unixNano)).Round(time.Second).String()
}

// Ready reports whether every output has been written and the last successful refresh is
// no older than max_staleness, with the reason when it is not. Safe from any goroutine.
func (e *Engine) Ready() (bool, string) {
	if e.lastOK.Load() == 0 && e.adopted.Load() == 0 {
		return false, "outputs not written yet"
	}
	if s := e.Staleness(); s > e.maxStaleness() {
		return false, fmt.Sprintf("last successful refresh %s ago, more than max_staleness %s (still serving the last good outputs)",
			s.Round(time.Second), e.maxStaleness())
	}
	return true, "ok"
}

// Staleness is the time since the last successful refresh; before the first, since the
// adopted outputs last changed, or since start. Safe to call from any goroutine.
func (e *Engine) Staleness() time.Duration {
	if ok := e.lastOK.Load(); ok != 0 {
		return time.Since(time.Unix(0, ok))
	}
	if a := e.adopted.Load(); a != 0 {
		return time.Since(time.Unix(0, a))
	}
	return time.Since(e.started)
}

// MaxStaleness is refresh.max_staleness, for the metric the alert rule compares with.
func (e *Engine) MaxStaleness() time.Duration { return e.maxStaleness() }
