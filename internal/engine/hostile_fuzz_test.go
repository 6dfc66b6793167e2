package engine

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/envpolicy"
	"github.com/patas/patas-secrets/internal/supervisor"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// File types the fuzzer puts where the secret file should be.
const (
	kindRegular = iota
	kindFIFO
	kindLinkToRegular
	kindLinkToFIFO
	kindDirectory
	kindDevice
	kindSocket
	kinds
)

// FuzzHostileExpand feeds hostile key names, values and file types through the real file
// backend, expand, the dotenv and shell sinks, and exec's env file reader. Whatever comes
// in: a non-regular file fails the refresh, naming it, without blocking; nothing is ever
// half-written; what is written reads back through exec's reader exactly, with no name of
// the envpolicy denylist in it; and an error never holds the value.
func FuzzHostileExpand(f *testing.F) {
	for _, k := range []string{"LD_PRELOAD", "path", "PYTHONSTARTUP", "ld_audit", "HOME", "node-options", "BASH.ENV",
		"ssl_cert_file", "database_url", "1x", "", "a b", "x\ny", "API_KEYS", "IFS", "PS4", "ÄÖ"} {
		for kind := range kinds {
			f.Add(k, "/tmp/evil-canary.so", uint8(kind))
		}
	}
	f.Add("db", "p@ss'w\"o$rd\\`x`\n", uint8(kindRegular))
	f.Fuzz(func(t *testing.T, key, value string, kind uint8) {
		dir := t.TempDir()
		secrets := filepath.Join(dir, "secrets")
		os.Mkdir(secrets, 0o755)
		p := filepath.Join(secrets, "app.json")
		content, _ := json.Marshal(map[string]string{key: value, "api_keys": "k1"})
		var stored map[string]string // what the file holds (JSON turns invalid UTF-8 into U+FFFD)
		json.Unmarshal(content, &stored)
		regular := plantFile(t, p, content, kind%kinds)

		cfg, err := config.Parse([]byte("backends: {files: {type: file, dir: secrets}}\n"+
			"secrets: [{ref: 'files:app.json', expand: true}]\n"+
			"outputs: [{format: dotenv, path: out/a.env}, {format: shell, path: out/a.sh}]\n"), dir, allbackends.Registry())
		if err != nil {
			t.Fatal(err)
		}
		be, _ := file.New(secrets, zap.NewNop())
		e, err := New(cfg, map[string]fetcher.Backend{"files": be}, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = e.RunOnce(ctx)
		if ctx.Err() != nil {
			t.Fatalf("RunOnce did not finish within 20s (kind %d)", kind%kinds)
		}
		outs := []string{filepath.Join(dir, "out", "a.env"), filepath.Join(dir, "out", "a.sh")}
		if err != nil {
			if !regular && !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("kind %d: error does not say the file is not regular: %v", kind%kinds, err)
			}
			if len(value) >= 8 && !strings.Contains(key, value) && strings.Contains(err.Error(), value) {
				t.Errorf("the error holds the value: %v", err)
			}
			for _, o := range outs {
				if _, serr := os.Lstat(o); serr == nil {
					t.Errorf("%s written although the refresh failed", o)
				}
			}
			return
		}
		if !regular {
			t.Fatalf("kind %d (not a regular file) was read", kind%kinds)
		}
		for _, o := range outs {
			vars, err := supervisor.ReadEnvFile(o, nil)
			if err != nil {
				t.Fatalf("exec cannot read %s: %v", filepath.Base(o), err)
			}
			got := map[string]string{}
			for _, kv := range vars {
				name, v, _ := strings.Cut(kv, "=")
				if envpolicy.Denied(name) {
					t.Errorf("%s sets %s", filepath.Base(o), name)
				}
				got[name] = v
			}
			if got["API_KEYS"] != "k1" {
				t.Errorf("%s: API_KEYS = %q", filepath.Base(o), got["API_KEYS"])
			}
			if name := envName(key); name != "API_KEYS" && got[name] != stored[key] {
				t.Errorf("%s: %s did not round-trip", filepath.Base(o), name)
			}
		}
	})
}

// plantFile puts content (or something else) at p and reports whether it is a regular
// file, directly or through a symlink.
func plantFile(t *testing.T, p string, content []byte, kind uint8) bool {
	t.Helper()
	aside := p + ".real"
	switch kind {
	case kindFIFO:
		unix.Mkfifo(p, 0o600)
	case kindLinkToRegular:
		os.WriteFile(aside, content, 0o600)
		os.Symlink(aside, p)
		return true
	case kindLinkToFIFO:
		unix.Mkfifo(aside, 0o600)
		os.Symlink(aside, p)
	case kindDirectory:
		os.Mkdir(p, 0o700)
	case kindDevice:
		os.Symlink("/dev/zero", p)
	case kindSocket:
		l, err := net.Listen("unix", p)
		if err != nil {
			t.Skip("cannot create a socket here:", err)
		}
		t.Cleanup(func() { l.Close() })
	default:
		os.WriteFile(p, content, 0o600)
		return true
	}
	return false
}
