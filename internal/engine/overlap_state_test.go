package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverlapStateIsPrivate: the state file lives in state_dir (not beside the outputs),
// and one that is planted, symlinked, corrupt, foreign-owned or open to others is ignored
// with a warning instead of putting its value into the variable.
func TestOverlapStateIsPrivate(t *testing.T) {
	const planted = "planted-CANARY-key"
	entry := "  - env: API_KEYS\n    ref: f:keys\n    overlap: 1h\n"
	good := func() []byte {
		b, _ := json.Marshal(stateFile{Format: stateFormat, Entries: map[string]stateEntry{"API_KEYS": {Current: []byte(planted)}}})
		return b
	}
	for _, tc := range []struct {
		name, warn string
		plant      func(t *testing.T, path string)
	}{
		{"the old format beside the output", "", func(t *testing.T, path string) {}},
		{"symlink", "it is a symlink", func(t *testing.T, path string) {
			real := filepath.Join(t.TempDir(), "elsewhere.json")
			os.WriteFile(real, good(), 0o600)
			os.Symlink(real, path)
		}},
		{"corrupt", "not a patas-secrets-overlap/1 file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(`{"current":"`+planted+`"}`), 0o600)
		}},
		{"open to others", "lets others in", func(t *testing.T, path string) {
			os.WriteFile(path, good(), 0o600)
			os.Chmod(path, 0o666)
		}},
		{"foreign owner", "owned by uid 4242", func(t *testing.T, path string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give a file away")
			}
			os.WriteFile(path, good(), 0o600)
			os.Chown(path, 4242, 4242)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stateDir := filepath.Join(t.TempDir(), "state")
			e, f, out, logs := setup(t, entry, "state_dir: "+stateDir+"\n")
			// What the landed code believed: a state file beside the first output.
			os.WriteFile(filepath.Join(filepath.Dir(out), ".patas-secrets-overlap.json"), []byte(`{"API_KEYS":{"current":"`+planted+`"}}`), 0o600)
			if err := privateDir(stateDir); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, e.statePath())
			f.put("keys", "new-key:ns")
			if got := resolved(t, e)["API_KEYS"]; got != "new-key:ns" {
				t.Errorf("API_KEYS = %q, want only the fetched key", got)
			}
			if tc.warn != "" && !strings.Contains(logs.String(), tc.warn) {
				t.Errorf("no warning %q in:\n%s", tc.warn, logs.String())
			}
			if strings.Contains(logs.String(), planted) {
				t.Errorf("the planted value was logged")
			}
		})
	}
	t.Run("a genuine file is believed", func(t *testing.T) {
		stateDir := filepath.Join(t.TempDir(), "state")
		e, f, _, _ := setup(t, entry, "state_dir: "+stateDir+"\n")
		privateDir(stateDir)
		os.WriteFile(e.statePath(), good(), 0o600)
		f.put("keys", "new-key:ns")
		if got := resolved(t, e)["API_KEYS"]; got != planted+",new-key:ns" {
			t.Errorf("API_KEYS = %q, want the remembered key kept beside the new one", got)
		}
	})
}
