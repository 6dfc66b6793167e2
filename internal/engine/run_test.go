package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// runInBackground starts e.Run and returns a stop function that waits for it to return.
func runInBackground(t *testing.T, e *Engine, external chan Reason) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, external) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil on cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return within 5s of cancel")
		}
	}
}

// waitFor polls cond until it holds or the deadline passes (a condition, not a speed test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileHas(path, want string) func() bool {
	return func() bool { b, _ := os.ReadFile(path); return string(b) == want }
}

func TestRunPicksUpFileChangeWithoutPolling(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "secrets")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "db_password"), []byte("one\n"), 0o600)
	cfg, err := config.Parse([]byte(`backends: {swarm: {type: file, dir: secrets}}
secrets:
  - env: DATABASE_URL
    template: 'postgresql://patas:{{ secret "swarm:db_password" }}@db/patas'
outputs: [{format: dotenv, path: out/secrets.env}]
refresh: {interval: 1h, watch: true}
`), dir, allbackends.Registry())
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := file.New(filepath.Join(dir, "secrets"), zap.NewNop())
	e, err := New(cfg, map[string]fetcher.Backend{"swarm": fb}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "secrets.env")
	stop := runInBackground(t, e, nil)
	defer stop()
	waitFor(t, "first write", fileHas(out, "DATABASE_URL='postgresql://patas:one@db/patas'\n"))
	tmp := filepath.Join(src, ".tmp")
	os.WriteFile(tmp, []byte("two\n"), 0o600)
	os.Rename(tmp, filepath.Join(src, "db_password"))
	waitFor(t, "the change to reach the output with a 1h interval", fileHas(out, "DATABASE_URL='postgresql://patas:two@db/patas'\n"))
}

// gate blocks every Fetch of the wrapped backend until released.
type gated struct {
	*fake
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Fetch(ctx context.Context, r fetcher.Ref) (fetcher.Secret, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.fake.Fetch(ctx, r)
}

func TestRunCoalescesABurstIntoOneRefresh(t *testing.T) {
	e, f, _, _ := setup(t, "  - env: A\n    ref: f:a\n", "refresh: {interval: 1h, watch: false}\n")
	f.put("a", "1")
	g := &gated{fake: f, entered: make(chan struct{}, 100), release: make(chan struct{})}
	e.backends["f"] = g
	external := make(chan Reason)
	stop := runInBackground(t, e, external)
	defer stop()
	<-g.entered // the first refresh is in its fetch
	for range 50 {
		external <- ReasonSignal
	}
	close(g.release)
	// Exactly one more refresh follows the burst.
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh after the burst")
	}
	select {
	case <-g.entered:
		t.Fatal("a third refresh ran: the burst was not coalesced")
	case <-time.After(300 * time.Millisecond):
	}
	if n := f.totalReads(); n != 2 {
		t.Errorf("got %d reads, want 2", n)
	}
}

func TestRunKeepsLastGoodOutputAndRecovers(t *testing.T) {
	e, f, out, logs := setup(t, "  - env: A\n    ref: f:a\n", "refresh: {interval: 1h, watch: false}\n")
	f.put("a", "good")
	external := make(chan Reason, 1)
	stop := runInBackground(t, e, external)
	defer stop()
	waitFor(t, "first write", fileHas(out, "A='good'\n"))
	f.put("a", "new")
	f.fail("a", errors.New("503 service unavailable"))
	external <- ReasonSignal
	waitFor(t, "a failed refresh", func() bool { return f.totalReads() >= 2 })
	if b, _ := os.ReadFile(out); string(b) != "A='good'\n" {
		t.Errorf("during the outage: got %q, want the last good output", b)
	}
	f.fail("a", nil)
	// No trigger is sent: the retry with backoff (about 1s) must recover by itself.
	waitFor(t, "recovery by retry", fileHas(out, "A='new'\n"))
	if !strings.Contains(logs.String(), "refresh failed; keeping the last good outputs") {
		t.Errorf("the failed refresh was not logged:\n%s", logs.String())
	}
}

func TestRunRefreshesBeforeALeaseRunsOut(t *testing.T) {
	e, f, _, _ := setup(t, "  - env: A\n    ref: f:a\n", "refresh: {interval: 1h, watch: false}\n")
	f.mu.Lock()
	f.secrets["a"] = fetcher.Secret{Value: fetcher.StringValue("lease"), TTL: 600 * time.Millisecond}
	f.mu.Unlock()
	stop := runInBackground(t, e, nil)
	defer stop()
	// With a 1h interval, only the lease (refresh at ~2/3 of 600ms) explains more reads.
	waitFor(t, "lease refreshes", func() bool { return f.totalReads() >= 3 })
}

// TestNextWaitAfterRotation: a backend rotation schedules the next read just after it (never
// before, unlike a lease at 2/3 of its TTL); a sooner lease still wins.
func TestNextWaitAfterRotation(t *testing.T) {
	e, _, _, _ := setup(t, "  - env: A\n    ref: f:a\n", "refresh: {interval: 1h, watch: false}\n")
	e.minRotate = 2 * time.Second
	for range 50 {
		if wait, why := e.nextWait(); why != ReasonRotation || wait < 2*time.Second+rotationMargin || wait >= 2*time.Second+rotationMargin*3/2 {
			t.Fatalf("got %s (%s), want rotation in [3s, 3.5s)", wait, why)
		}
	}
	e.minTTL = 3 * time.Second // renew at ~2s, before the rotation's 3s
	if _, why := e.nextWait(); why != ReasonLease {
		t.Errorf("got reason %s, want the sooner lease", why)
	}
}

// TestRunReadsAgainAfterARotation: Secret.RotatesIn alone schedules reads when the interval is 1h.
func TestRunReadsAgainAfterARotation(t *testing.T) {
	e, f, _, _ := setup(t, "  - env: A\n    ref: f:a\n", "refresh: {interval: 1h, watch: false}\n")
	f.mu.Lock()
	f.secrets["a"] = fetcher.Secret{Value: fetcher.StringValue("static"), RotatesIn: 100 * time.Millisecond}
	f.mu.Unlock()
	stop := runInBackground(t, e, nil)
	defer stop()
	// With a 1h interval, only the rotation (~1.1s after each read) explains more reads.
	waitFor(t, "reads after rotations", func() bool { return f.totalReads() >= 3 })
}
