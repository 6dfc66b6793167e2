package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv/faultproxy"
)

// The fault scenario's timing: the shortest interval config allows, so that the engine's
// backoff (doubling from 1s, capped at the interval) retries about every second.
const (
	faultInterval     = time.Second
	faultMaxStaleness = 3 * time.Second
	faultFetchTimeout = 1500 * time.Millisecond
)

// faultsFor lists the faults a target's proxy can inject. Latency below FetchTimeout is
// survivable and tested first, on its own. CI runs one fault of each kind; PATAS_FAULTS=all
// adds the ones that take the same path (a 500 like a 503, latency above FetchTimeout like
// a hang; for AWS, reset and truncate).
func faultsFor(tg target) []faultproxy.Fault {
	all := allFaults()
	if tg.name == "aws" && !all {
		// Reset and truncate take the SDK's generic network path, run for Vault too.
		return []faultproxy.Fault{{Kind: faultproxy.Hang}, {Kind: faultproxy.Status, Code: 503}, {Kind: faultproxy.Throttle, RetryAfter: time.Second}}
	}
	fs := []faultproxy.Fault{{Kind: faultproxy.Hang}, {Kind: faultproxy.Reset}}
	if all {
		fs = append(fs, faultproxy.Fault{Kind: faultproxy.Latency, Delay: 3 * faultFetchTimeout})
	}
	if tg.http {
		fs = append(fs,
			faultproxy.Fault{Kind: faultproxy.Status, Code: 503},
			faultproxy.Fault{Kind: faultproxy.Throttle, RetryAfter: time.Second},
			faultproxy.Fault{Kind: faultproxy.Truncate},
		)
		if all {
			fs = append(fs, faultproxy.Fault{Kind: faultproxy.Status, Code: 500})
		}
	}
	return fs
}

// allFaults reports whether PATAS_FAULTS=all asks for the long form.
func allFaults() bool { return os.Getenv("PATAS_FAULTS") == "all" }

func TestFaultsVault(t *testing.T) { t.Parallel(); faultScenario(t, vaultTarget) }
func TestFaultsAWS(t *testing.T)   { t.Parallel(); faultScenario(t, awsTarget) } // the only moto user here
func TestFaultsGCP(t *testing.T)   { t.Parallel(); faultScenario(t, gcpTarget) }

// faultScenario runs the engine over one target and, for each fault in turn: stores a new
// value in the server, turns the fault on, and checks that the failed refreshes keep every
// output byte for byte, that readiness turns stale only after max_staleness (for the
// hang), and that when the fault ends the sidecar picks up the new value by itself. Then
// it checks the backoff the engine chose, that no read outlived FetchTimeout, and that the
// canary is nowhere.
func faultScenario(t *testing.T, open func(*testing.T, *logs) target) {
	l := newLogs()
	tg := open(t, l)
	dir := t.TempDir()
	tg.rotate(t, "v0-"+canary)
	r := startEngine(t, l, dir, `
environment: test
backends:
  `+tg.yaml+`
secrets:
  - {env: API_KEY, ref: "`+tg.ref+`"}
outputs:
  - {format: dotenv, path: out/secrets.env, mode: "0440"}
  - {format: json, path: out/secrets.json, mode: "0440"}
  - {format: files, path: out/files, mode: "0440"}
refresh: {interval: `+faultInterval.String()+`, jitter: "10%", max_staleness: `+faultMaxStaleness.String()+`, read_timeout: `+faultFetchTimeout.String()+`, watch: false}
`, map[string]fetcher.Backend{tg.name: tg.backend}, faultFetchTimeout)
	paths := []string{filepath.Join(dir, "out/secrets.env"), filepath.Join(dir, "out/secrets.json"), filepath.Join(dir, "out/files/API_KEY")}
	landed := func(value string) func() bool {
		return func() bool {
			for _, o := range readOutputs(t, paths...) {
				if !strings.Contains(o, value) {
					return false
				}
			}
			return true
		}
	}
	waitUntil(t, 90*time.Second, "the first outputs", landed("v0-"+canary))

	// Latency below FetchTimeout slows a refresh down but does not fail it.
	tg.proxy.Set(faultproxy.Fault{Kind: faultproxy.Latency, Delay: faultFetchTimeout / 5})
	tg.rotate(t, "slow-"+canary)
	waitUntil(t, 90*time.Second, "a value read through latency below FetchTimeout", landed("slow-"+canary))
	tg.proxy.Clear()

	for i, f := range faultsFor(tg) {
		good := readOutputs(t, paths...)
		before := len(l.failures())
		hitBefore := tg.proxy.Hit()
		lastOK := time.Now().Add(-r.eng.Staleness())
		tg.proxy.Set(f)
		value := fmt.Sprintf("v%d-%s", i+1, canary)
		tg.rotate(t, value)

		stale := f.Kind == faultproxy.Hang // long enough to see readiness turn
		waitUntil(t, 90*time.Second, fmt.Sprintf("%s: two failed refreshes and a faulted request (proxy hit %d before)", f, hitBefore), func() bool {
			if got := readOutputs(t, paths...); fmt.Sprint(got) != fmt.Sprint(good) {
				t.Fatalf("%s: outputs changed during the fault:\ngot  %q\nwant %q", f, got, good)
			}
			ready, why := r.eng.Ready()
			if !ready && time.Since(lastOK) < faultMaxStaleness {
				t.Fatalf("%s: not ready (%s) %s after the last success, before max_staleness %s", f, why, time.Since(lastOK), faultMaxStaleness)
			}
			if stale && ready {
				return false
			}
			// Two failures, and the proxy did fault traffic (a failure under load alone
			// would prove nothing).
			return len(l.failures()) >= before+2 && tg.proxy.Hit() > hitBefore
		}, func() string {
			ready, _ := r.eng.Ready()
			last := ""
			if fs := l.failures(); len(fs) > 0 {
				last = fmt.Sprint(fs[len(fs)-1].ContextMap()["error"])
			}
			return fmt.Sprintf("failures %d (from %d), proxy seen %d hit %d, ready %v, last error %q", len(l.failures()), before, tg.proxy.Seen(), tg.proxy.Hit(), ready, last)
		})
		faulted := time.Now()
		tg.proxy.Clear()
		waitUntil(t, 90*time.Second, fmt.Sprintf("recovery after %s", f), landed(value))
		waitUntil(t, 10*time.Second, fmt.Sprintf("ready after %s", f), func() bool { ok, _ := r.eng.Ready(); return ok })
		t.Logf("%s: %d failed refreshes in %s, recovered in %s", f, len(l.failures())-before,
			faulted.Sub(lastOK).Round(100*time.Millisecond), time.Since(faulted).Round(100*time.Millisecond))
	}
	r.stop()

	checkBackoff(t, l, faultInterval)
	checkFetchDurations(t, r, faultFetchTimeout)
	noCanary(t, map[string]string{"the log": l.String(), "/metrics": r.metrics(t)})
}

// checkBackoff: every retry the engine scheduled lies within ±20% of its nominal wait
// (doubling from 1s, capped at the interval), and the waits differ (they are jittered).
func checkBackoff(t *testing.T, l *logs, interval time.Duration) {
	t.Helper()
	fails := l.failures()
	distinct := map[time.Duration]bool{}
	for _, e := range fails {
		fields := e.ContextMap()
		n, _ := fields["consecutive_failures"].(int64)
		wait, _ := fields["retry_in"].(time.Duration)
		nominal := min(time.Second<<min(n-1, 16), interval, 2*time.Minute)
		if wait < nominal*8/10 || wait > nominal*12/10 {
			t.Errorf("failure %d: retry in %s, want %s ±20%%", n, wait, nominal)
		}
		distinct[wait] = true
	}
	if len(fails) >= 3 && len(distinct) < 2 {
		t.Errorf("every retry waited exactly %v: no jitter", distinct)
	}
	t.Logf("%d failed refreshes, %d distinct waits", len(fails), len(distinct))
}

// checkFetchDurations: no backend read lasted much more than FetchTimeout (each request
// has a deadline, a hang does not hold the refresh), read from the duration histogram.
func checkFetchDurations(t *testing.T, r *running, timeout time.Duration) {
	t.Helper()
	mfs, err := r.eng.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	limit := timeout.Seconds() + 1
	for _, mf := range mfs {
		if mf.GetName() != "patas_secrets_fetch_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			within := uint64(0)
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() >= limit {
					within = b.GetCumulativeCount()
					break
				}
			}
			if within != h.GetSampleCount() {
				t.Errorf("%s: %d of %d reads took more than %.1fs (FetchTimeout %s)", labels(m), h.GetSampleCount()-within, h.GetSampleCount(), limit, timeout)
			}
		}
		return
	}
	t.Errorf("no fetch duration recorded")
}

func labels(m *dto.Metric) string {
	var s []string
	for _, l := range m.GetLabel() {
		s = append(s, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(s, ",")
}
