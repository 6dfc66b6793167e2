package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

type countingNotifier struct{ n atomic.Int32 }

func (c *countingNotifier) Changed()                      { c.n.Add(1) }
func (c *countingNotifier) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// twoOutputs builds an engine writing A to dir/a.env and to second (relative to dir).
func twoOutputs(t *testing.T, second string) (*Engine, *fake, string, *countingNotifier) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte("backends: {f: {type: file, dir: unused}}\nsecrets: [{env: A, ref: 'f:a'}]\n"+
		"outputs: [{format: dotenv, path: a.env}, {format: dotenv, path: "+second+"}]\n"), dir, allbackends.Registry())
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	e, err := New(cfg, map[string]fetcher.Backend{"f": f}, newLogger(&logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	n := &countingNotifier{}
	e.Notifier = n
	return e, f, dir, n
}

// TestOutputsAsOneGeneration: every output is prepared before any goes live, so a failure
// preparing a later output leaves the earlier one on the old generation; a rename that
// keeps failing leaves the others live, is reported naming both sides, and the notifier is
// told that something changed.
func TestOutputsAsOneGeneration(t *testing.T) {
	t.Run("prepare fails: nothing changes", func(t *testing.T) {
		e, f, dir, n := twoOutputs(t, "blocker/b.env")
		f.put("a", "one")
		os.WriteFile(filepath.Join(dir, "blocker"), []byte("a file where a directory should be"), 0o600)
		if err := e.RunOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "blocker") {
			t.Fatalf("got %v, want an error naming the blocked output", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "a.env")); err == nil {
			t.Error("a.env was written although b.env could not be prepared")
		}
		if got := n.n.Load(); got != 0 {
			t.Errorf("notifier told %d times, want 0", got)
		}
	})
	t.Run("rename fails: the rest is live, reported, notified", func(t *testing.T) {
		e, f, dir, n := twoOutputs(t, "b.env")
		f.put("a", "one")
		if err := e.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		n.n.Store(0)
		// b.env becomes a directory with something in it: renaming a file over it fails.
		b := filepath.Join(dir, "b.env")
		os.Remove(b)
		os.MkdirAll(filepath.Join(b, "x"), 0o700)
		f.put("a", "two")
		err := e.RunOnce(t.Context())
		if err == nil || !strings.Contains(err.Error(), "output "+b) || !strings.Contains(err.Error(), "already on the new generation: "+filepath.Join(dir, "a.env")) {
			t.Fatalf("got %v, want an error naming b.env and a.env as live", err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "a.env")); string(got) != "A='two'\n" {
			t.Errorf("a.env = %q, want the new generation", got)
		}
		if got := n.n.Load(); got != 1 {
			t.Errorf("notifier told %d times, want 1: a.env changed", got)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".patas-secrets-*")); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}

// TestNewParentsTakeTheOutputOwner: directories created above an output get its uid and
// gid, not the sidecar's (the app's user must be able to get through a 0750 directory).
func TestNewParentsTakeTheOutputOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give directories to another uid")
	}
	dir := t.TempDir()
	cfg, err := config.Parse([]byte("backends: {f: {type: file, dir: unused}}\nsecrets: [{env: A, ref: 'f:a'}]\n"+
		"outputs: [{format: dotenv, path: new/sub/a.env, uid: 4242, gid: 4343}, {format: files, path: other/files, uid: 4242, gid: 4343}]\n"), dir, allbackends.Registry())
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	f.put("a", "v")
	e, err := New(cfg, map[string]fetcher.Backend{"f": f}, newLogger(&logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"new", "new/sub", "other", "other/files"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 4242 || st.Gid != 4343 {
			t.Errorf("%s: owner %d:%d, want 4242:4343", d, st.Uid, st.Gid)
		}
	}
}

// TestWarnsOnUnencodedUserinfo: a secret put into a URL's user info without urlencode is
// a warning at start (naming the entry and ref, never a value); an encoded one is not.
func TestWarnsOnUnencodedUserinfo(t *testing.T) {
	_, _, _, logs := setup(t, "  - env: DATABASE_URL\n    template: 'postgresql://u:{{ secret \"f:pw\" }}@db/patas'\n"+
		"  - env: OTHER_URL\n    template: 'postgresql://u:{{ secret \"f:pw2\" | urlencode }}@db/patas'\n", "")
	got := logs.String()
	if !strings.Contains(got, "without urlencode") || !strings.Contains(got, `secrets[0] (DATABASE_URL)`) || !strings.Contains(got, `"f:pw"`) {
		t.Errorf("no warning naming secrets[0] and f:pw:\n%s", got)
	}
	if strings.Contains(got, "OTHER_URL") || strings.Contains(got, "f:pw2") {
		t.Errorf("the encoded template was flagged:\n%s", got)
	}
}
