package supervisor

import (
	"time"

	"github.com/patas/patas-secrets/internal/backoff"
)

// limiter bounds how often the child is restarted (or signalled) on file changes:
//
//   - the first action after a quiet spell (no action within window) happens at once;
//   - each further action within window waits at least backoff, doubled for every action
//     already taken within window (backoff, 2×backoff, 4×backoff …, capped at window);
//   - and never more than max actions in any window: the next waits for the oldest to
//     leave the window.
//
// Changes that arrive while an action waits are merged into it: the child is started
// with the file as it is when the action happens.
type limiter struct {
	max     int
	window  time.Duration
	backoff time.Duration
	history []time.Time // actions within the last window, oldest first
}

// next returns the earliest time the next action may happen.
func (l *limiter) next(now time.Time) time.Time {
	l.forget(now)
	t := now
	n := len(l.history)
	if n == 0 {
		return t
	}
	gap := backoff.Policy{Base: l.backoff, Max: l.window}.Delay(n - 1) // no jitter: one child, no herd
	if g := l.history[n-1].Add(gap); g.After(t) {
		t = g
	}
	if l.max > 0 && n >= l.max {
		if w := l.history[n-l.max].Add(l.window); w.After(t) {
			t = w
		}
	}
	return t
}

// record notes an action taken at now.
func (l *limiter) record(now time.Time) {
	l.forget(now)
	l.history = append(l.history, now)
}

func (l *limiter) forget(now time.Time) {
	i := 0
	for i < len(l.history) && now.Sub(l.history[i]) >= l.window {
		i++
	}
	l.history = l.history[i:]
}
