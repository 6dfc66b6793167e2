package sinks_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// FuzzReadEnvFile: the env-file reader (exec's) never panics, returns only NAME=value pairs
// with valid names, and its errors name a line, never a value.
func FuzzReadEnvFile(f *testing.F) {
	for _, s := range []string{
		"A='1'\nB=\"two\\nlines\"\nexport C='it'\\''s'\n# c\n\nD=plain #comment\n",
		"A='multi\nline'\n", "A=\"unterminated\n", "export A='x'\\'", "A=1\r\nB=2\r\n", "=v\n", "A B=1\n",
		"export A=unquoted\n", "A='x' trailing\n", "A=\"\\q\"\n", "export A=''\\'''\n", "\n\n#only\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := sinks.ReadEnvFile(data)
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, "line") {
				t.Fatalf("error %q names no line", msg)
			}
			// A value is anything after '='; an error may quote a name but not a value.
			for _, line := range strings.Split(string(data), "\n") {
				if _, v, ok := strings.Cut(line, "="); ok && len(v) >= 12 && strings.Contains(msg, v) {
					t.Fatalf("error %q holds a value", msg)
				}
			}
			return
		}
		for _, kv := range env {
			name, _, ok := strings.Cut(kv, "=")
			if !ok || !sinks.ValidName(name) {
				t.Fatalf("bad pair %q", kv)
			}
		}
	})
}

// FuzzEnvFileRoundTrip: every value the dotenv and shell sinks accept comes back from
// ReadEnvFile unchanged: what exec hands the app is what the engine wrote.
func FuzzEnvFileRoundTrip(f *testing.F) {
	for _, v := range []string{"", "plain", "it's", `back\slash`, "multi\nline", " padded ", "a #b", `"dq"`, "$HOME", "ünï", "\r", "=", "'", `\'`, "x\x00y"} {
		f.Add(v)
	}
	dir := f.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "patas-fuzz-"); err == nil {
			dir = d
			f.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	var outs []sinks.Sink
	for _, format := range []string{"dotenv", "shell"} {
		s, err := sinks.New(format, filepath.Join(dir, format), sinks.FileOptions{Mode: 0o600, UID: -1, GID: -1})
		if err != nil {
			f.Fatal(err)
		}
		outs = append(outs, s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		snap := sinks.Snapshot{Vars: []sinks.Var{{Name: "V", Value: fetcher.StringValue(v)}, {Name: "W", Value: fetcher.StringValue("w")}}}
		for _, s := range outs {
			if s.Check(snap) != nil {
				continue
			}
			if _, err := s.Write(context.Background(), snap); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			env, err := sinks.ReadEnvFile(b)
			if err != nil {
				t.Fatalf("%s: %q written as %q does not read back: %v", filepath.Base(s.Path()), v, b, err)
			}
			want := []string{"V=" + v, "W=w"}
			if len(env) != 2 || env[0] != want[0] || env[1] != want[1] {
				t.Fatalf("%s: %q written as %q reads back as %q", filepath.Base(s.Path()), v, b, env)
			}
		}
	})
}
