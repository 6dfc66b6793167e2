package engine

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAliveAdoptsOutputsOfAPreviousRun: a sidecar started while its backend fails and its
// output is already on the volume is alive (serving that output, untouched) but not ready
// when the output is older than max_staleness; with no output it is neither; an empty file
// (never written by patas-secrets) is not adopted.
func TestAliveAdoptsOutputsOfAPreviousRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing *string // nil: no file
		age      time.Duration
		alive    bool
		ready    bool
		aliveWhy string
	}{
		{"no output", nil, 0, false, false, "not written yet"},
		{"empty file", ptr(""), 0, false, false, "not written yet"},
		{"fresh output", ptr("A='old'\n"), time.Second, true, true, "previous run"},
		{"stale output", ptr("A='old'\n"), time.Hour, true, false, "previous run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, f, out, _ := setup(t, "  - env: A\n    ref: f:a\n", "refresh: {interval: 1m, watch: false, max_staleness: 2m}\n")
			f.fail("a", errors.New("503 service unavailable"))
			if tc.existing != nil {
				if err := os.WriteFile(out, []byte(*tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
				old := time.Now().Add(-tc.age)
				if err := os.Chtimes(out, old, old); err != nil {
					t.Fatal(err)
				}
			}
			stop := runInBackground(t, e, nil)
			defer stop()
			waitFor(t, "the first (failing) refresh", func() bool { return f.totalReads() >= 1 })
			alive, why := e.Alive()
			if alive != tc.alive || !strings.Contains(why, tc.aliveWhy) {
				t.Errorf("Alive: got %v %q, want %v (%s)", alive, why, tc.alive, tc.aliveWhy)
			}
			if ready, why := e.Ready(); ready != tc.ready {
				t.Errorf("Ready: got %v %q, want %v", ready, why, tc.ready)
			}
			if tc.existing != nil {
				if b, _ := os.ReadFile(out); string(b) != *tc.existing {
					t.Errorf("the adopted output changed: %q", b)
				}
			}
			// The backend comes back: this run's own generation replaces the adopted one.
			f.put("a", "new")
			f.fail("a", nil)
			waitFor(t, "recovery", fileHas(out, "A='new'\n"))
			waitFor(t, "alive and ready after recovery", func() bool {
				a, why := e.Alive()
				r, _ := e.Ready()
				return a && r && strings.Contains(why, "refreshed")
			})
		})
	}
}

func ptr(s string) *string { return &s }
