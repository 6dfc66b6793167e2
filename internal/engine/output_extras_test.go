package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// extrasEngine: a dotenv output (A, global notifier, backup) and a template output (B, its
// own notifier), over one fake backend.
func extrasEngine(t *testing.T) (*Engine, *fake, string, *countingNotifier, *countingNotifier) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.tmpl"), []byte(`b={{ secret "f:b" }}`+"\n"), 0o600)
	cfg, err := config.Parse([]byte(`backends: {f: {type: file, dir: unused}}
secrets: [{env: A, ref: 'f:a'}]
outputs:
  - {format: dotenv, path: a.env, mode: "0600", backup: true}
  - {format: template, template: b.tmpl, path: b.conf, notify: {command: {args: [/bin/true]}}}
`), dir, allbackends.Registry())
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	e, err := New(cfg, map[string]fetcher.Backend{"f": f}, newLogger(&logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	global, own := &countingNotifier{}, &countingNotifier{}
	e.Notifier = global
	e.SetOutputNotifier(1, own)
	return e, f, dir, global, own
}

// TestOutputOwnNotifier: a change of the output with its own notify tells only that
// notifier; a change of another output tells only the global one.
func TestOutputOwnNotifier(t *testing.T) {
	e, f, _, global, own := extrasEngine(t)
	ctx := context.Background()
	f.put("a", "a-one")
	f.put("b", "b-one")
	if err := e.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if g, o := global.n.Load(), own.n.Load(); g != 1 || o != 1 {
		t.Fatalf("first write: global %d, own %d, want 1 and 1", g, o)
	}
	f.put("b", "b-two")
	if err := e.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if g, o := global.n.Load(), own.n.Load(); g != 1 || o != 2 {
		t.Errorf("template output changed: global %d, own %d, want 1 and 2", g, o)
	}
	f.put("a", "a-two")
	if err := e.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if g, o := global.n.Load(), own.n.Load(); g != 2 || o != 2 {
		t.Errorf("dotenv output changed: global %d, own %d, want 2 and 2", g, o)
	}
}

// TestBackupKeepsPreviousGeneration: PATH.bak holds the content PATH had before the last
// change, with the output's mode; an unchanged refresh leaves it alone; a planted symlink
// at PATH is not copied.
func TestBackupKeepsPreviousGeneration(t *testing.T) {
	e, f, dir, _, _ := extrasEngine(t)
	ctx := context.Background()
	out, bak := filepath.Join(dir, "a.env"), filepath.Join(dir, "a.env.bak")
	f.put("b", "b-one")
	for _, v := range []string{"one", "two", "two", "three"} {
		f.put("a", v)
		if err := e.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if v == "one" {
			if _, err := os.Lstat(bak); !os.IsNotExist(err) {
				t.Errorf("a backup exists after the first write")
			}
		}
	}
	if !fileHas(out, "A='three'\n")() || !fileHas(bak, "A='two'\n")() {
		b, _ := os.ReadFile(bak)
		t.Errorf("backup holds %q, want the previous generation A='two'", b)
	}
	if fi, _ := os.Stat(bak); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want the output's 0600", fi.Mode().Perm())
	}

	// A symlink planted at PATH is replaced, and what it points at is not copied.
	secret := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(secret, []byte("not ours"), 0o600)
	os.Remove(out)
	os.Symlink(secret, out)
	f.put("a", "four")
	if err := e.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !fileHas(out, "A='four'\n")() || !fileHas(bak, "A='two'\n")() {
		t.Errorf("after a planted symlink: output or backup wrong")
	}
}

func TestOutputExtrasConfigProblems(t *testing.T) {
	base := "backends: {f: {type: file, dir: x}}\nsecrets: [{env: A, ref: 'f:a'}]\n"
	for _, tt := range []struct{ outputs, want string }{
		{"[{format: files, path: d, backup: true}]", "outputs[0].backup: applies to one-file formats"},
		{"[{format: dotenv, path: a, backup: true}, {format: json, path: a.bak}]", "outputs[0].backup: its backup"},
		{"[{format: dotenv, path: a, notify: {debounce: 1s}}]", "outputs[0].notify: needs at least one of signal, command or http"},
		{"[{format: dotenv, path: a, notify: {signal: {pidfile: p, signal: SIGNOPE}}}]", "outputs[0].notify.signal.signal: unknown signal"},
	} {
		_, err := config.Parse([]byte(base+"outputs: "+tt.outputs+"\n"), t.TempDir(), allbackends.Registry())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.outputs, err, tt.want)
		}
	}
}
