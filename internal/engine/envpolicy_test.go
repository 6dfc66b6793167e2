package engine

import (
	"strings"
	"testing"
)

// TestExpandRefusesDeniedNames: a secret's keys are untrusted; one that would set a
// loader, interpreter or shell variable stops the refresh with an error naming the key and
// the entry, never the value, unless the entry allows it by name.
func TestExpandRefusesDeniedNames(t *testing.T) {
	const canary = "/tmp/evil-canary.so"
	secret := `{"api_keys":"k1","LD_PRELOAD":"` + canary + `","PYTHONSTARTUP":"` + canary + `","path":"` + canary + `"}`
	t.Run("refused", func(t *testing.T) {
		e, f, _, _ := setup(t, "  - ref: f:patas\n    expand: true\n", "")
		f.put("patas", secret)
		_, err := e.Resolve(t.Context())
		if err == nil {
			t.Fatal("Resolve accepted LD_PRELOAD, PYTHONSTARTUP and PATH from a secret")
		}
		for _, want := range []string{`secrets[0] (f:patas): key "LD_PRELOAD" would set LD_PRELOAD`, `key "PYTHONSTARTUP"`, `key "path" would set PATH`, "expand_allow"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error holds the value: %v", err)
		}
	})
	t.Run("expand_allow", func(t *testing.T) {
		e, f, _, _ := setup(t, "  - ref: f:patas\n    expand: true\n    expand_allow: [LD_PRELOAD, PYTHONSTARTUP, PATH]\n", "")
		f.put("patas", secret)
		if got := resolved(t, e); got["LD_PRELOAD"] != canary || got["PATH"] != canary || got["API_KEYS"] != "k1" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("keys allowlist", func(t *testing.T) {
		e, f, _, _ := setup(t, "  - ref: f:patas\n    expand: true\n    keys: [api_keys]\n", "")
		f.put("patas", secret)
		got := resolved(t, e)
		if len(got) != 1 || got["API_KEYS"] != "k1" {
			t.Errorf("got %v, want only API_KEYS", got)
		}
	})
	t.Run("listed key missing", func(t *testing.T) {
		e, f, _, _ := setup(t, "  - ref: f:patas\n    expand: true\n    keys: [api_keys, db_url]\n", "")
		f.put("patas", secret)
		_, err := e.Resolve(t.Context())
		if err == nil || !strings.Contains(err.Error(), `key "db_url" listed in keys is not in f:patas`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("prefix keeps names clear", func(t *testing.T) {
		e, f, _, _ := setup(t, "  - ref: f:patas\n    expand: true\n    prefix: APP_\n", "")
		f.put("patas", secret)
		if got := resolved(t, e); got["APP_PATH"] != canary || got["APP_LD_PRELOAD"] != canary {
			t.Errorf("got %v", got)
		}
	})
}
