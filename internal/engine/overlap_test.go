package engine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
)

func TestUnionList(t *testing.T) {
	for _, tt := range []struct{ prev, cur, want string }{
		{"old-key:ns", "new-key:ns", "old-key:ns,new-key:ns"},
		{"a:1,b:2", "b:2,c:3", "a:1,b:2,c:3"},
		{"a", "a", "a"},
		{" a , ", "b", "a,b"},
	} {
		if got := unionList(tt.prev, tt.cur); got != tt.want {
			t.Errorf("unionList(%q, %q) = %q, want %q", tt.prev, tt.cur, got, tt.want)
		}
	}
}

// versioned is a fake backend that keeps versions, as Vault KV v2 does.
type versioned struct {
	*fake
	versions []fetcher.Secret // index i is version i+1
}

func (v *versioned) Fetch(ctx context.Context, r fetcher.Ref) (fetcher.Secret, error) {
	v.fake.Fetch(ctx, r) // count the read
	n := len(v.versions)
	if r.Version != "" {
		n, _ = strconv.Atoi(r.Version)
	}
	return v.versions[n-1], nil
}

func (v *versioned) Previous(ctx context.Context, r fetcher.Ref, cur fetcher.Secret) (fetcher.Secret, error) {
	n, _ := strconv.Atoi(cur.Version)
	if n <= 1 {
		return fetcher.Secret{}, fetcher.ErrNotFound
	}
	r.Version = strconv.Itoa(n - 1)
	return v.Fetch(ctx, r)
}

func TestOverlapFromBackendVersions(t *testing.T) {
	e, f, _, _ := setup(t, "  - env: API_KEYS\n    ref: f:patas#api_keys\n    overlap: 1h\n", "")
	v := &versioned{fake: f}
	e.backends["f"] = v
	keys := func(version int, value string, created time.Time) fetcher.Secret {
		return fetcher.Secret{Data: map[string]fetcher.Value{"api_keys": fetcher.StringValue(value)}, Version: strconv.Itoa(version), Created: created}
	}
	v.versions = []fetcher.Secret{keys(1, "old-key:ns", time.Now().Add(-48*time.Hour))}
	if got := resolved(t, e)["API_KEYS"]; got != "old-key:ns" {
		t.Errorf("before rotation: got %q", got)
	}
	v.versions = append(v.versions, keys(2, "new-key:ns", time.Now().Add(-time.Minute)))
	if got := resolved(t, e)["API_KEYS"]; got != "old-key:ns,new-key:ns" {
		t.Errorf("during the window: got %q, want both keys", got)
	}
	if d := time.Until(e.overlapEnds); d < 58*time.Minute || d > time.Hour {
		t.Errorf("window end in %s, want about 59m", d)
	}
	// A new engine (a restarted sidecar, or a new pod) knows the window from the backend.
	e2, _, _, _ := setup(t, "  - env: API_KEYS\n    ref: f:patas#api_keys\n    overlap: 1h\n", "")
	e2.backends["f"] = v
	if got := resolved(t, e2)["API_KEYS"]; got != "old-key:ns,new-key:ns" {
		t.Errorf("after a restart: got %q, want both keys", got)
	}
	v.versions[1].Created = time.Now().Add(-2 * time.Hour)
	if got := resolved(t, e)["API_KEYS"]; got != "new-key:ns" {
		t.Errorf("after the window: got %q, want only the new key", got)
	}
}

func TestOverlapRemembered(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	extra := "refresh: {interval: 1h, watch: false}\nstate_dir: " + stateDir + "\n"
	e, f, out, _ := setup(t, "  - env: API_KEYS\n    ref: f:keys\n    overlap: 3s\n", extra)
	f.put("keys", "old-key:ns")
	external := make(chan Reason, 1)
	stop := runInBackground(t, e, external)
	waitFor(t, "first write", fileHas(out, "API_KEYS='old-key:ns'\n"))
	f.put("keys", "new-key:ns")
	external <- ReasonSignal
	waitFor(t, "both keys during the window", fileHas(out, "API_KEYS='old-key:ns,new-key:ns'\n"))
	stop()

	// A restarted sidecar still inside the window keeps both keys (state file), then drops
	// the old one when the window closes, with no trigger but the window's end.
	st, err := os.Stat(e.statePath())
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if st.Mode().Perm() != 0o600 || filepath.Dir(e.statePath()) != stateDir {
		t.Errorf("state file %s mode %o, want 0600 in %s", e.statePath(), st.Mode().Perm(), stateDir)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".patas-secrets*")); len(left) != 0 {
		t.Errorf("state beside the output: %v", left)
	}
	e2, _, _, _ := setup(t, "  - env: API_KEYS\n    ref: f:keys\n    overlap: 3s\n", extra)
	e2.backends["f"] = f
	e2.sinks = e.sinks
	e2.cfg.Outputs = e.cfg.Outputs
	if got := resolved(t, e2)["API_KEYS"]; got != "old-key:ns,new-key:ns" {
		t.Errorf("restarted within the window: got %q, want both keys", got)
	}
	stop2 := runInBackground(t, e2, nil)
	defer stop2()
	waitFor(t, "the old key to leave after the window", fileHas(out, "API_KEYS='new-key:ns'\n"))
}
