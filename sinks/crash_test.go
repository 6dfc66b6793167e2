package sinks

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// The first write of a one-file output removes its own crash leftovers and nothing else:
// not another output's, not a symlink or directory named like one, not a lookalike.
func TestFirstWriteRemovesCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.env")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, kind := range map[string]string{
		".patas-secrets-secrets.env.0123456789ab":  "file", // ours: removed
		".patas-secrets-secrets.env.ba9876543210":  "file", // ours: removed
		".patas-secrets-secrets.json.0123456789ab": "file", // another output's
		".patas-secrets-secrets.env.0123456789ac":  "symlink",
		".patas-secrets-secrets.env.0123456789ad":  "dir",
		".patas-secrets-secrets.env.0123456789":    "file", // not our pattern
		".patas-secrets-overlap.json":              "file",
	} {
		p := filepath.Join(dir, name)
		var err error
		switch kind {
		case "file":
			err = os.WriteFile(p, []byte("partial"), 0o600)
		case "symlink":
			err = os.Symlink(victim, p)
		case "dir":
			err = os.Mkdir(p, 0o700)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := New("dotenv", path, FileOptions{Mode: 0o440, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	snap := Snapshot{Vars: []Var{{Name: "A", Value: fetcher.NewValue([]byte("1"))}}}
	if _, err := s.Write(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	want := []string{
		".patas-secrets-overlap.json",
		".patas-secrets-secrets.env.0123456789",
		".patas-secrets-secrets.env.0123456789ac",
		".patas-secrets-secrets.env.0123456789ad",
		".patas-secrets-secrets.json.0123456789ab",
		"secrets.env",
	}
	if got := names(t, dir); len(got) != len(want) || fmtList(got) != fmtList(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target changed")
	}
}

// A crash between creating a generation and swapping it in leaves an unfinished
// generation; a restart whose snapshot is already live removes it at its first write.
func TestFirstWriteRemovesUnfinishedGeneration(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "files")
	snap := Snapshot{Vars: []Var{{Name: "A", Value: fetcher.NewValue([]byte("1"))}}}
	first, _ := New("files", dir, FileOptions{Mode: 0o440, UID: -1, GID: -1})
	if _, err := first.Write(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, "..2000_01_01_00_00_00.000000000")
	if err := os.Mkdir(orphan, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan, "A"), []byte("par"), 0o400); err != nil {
		t.Fatal(err)
	}
	restarted, _ := New("files", dir, FileOptions{Mode: 0o440, UID: -1, GID: -1})
	changed, err := restarted.Write(context.Background(), snap)
	if err != nil || changed {
		t.Fatalf("got changed=%v, %v; want an unchanged output", changed, err)
	}
	if _, err := os.Lstat(orphan); !os.IsNotExist(err) {
		t.Errorf("the unfinished generation is still there (%v)", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "A")); err != nil || string(b) != "1" {
		t.Errorf("got %q, %v; want the live value", b, err)
	}
}

func fmtList(s []string) string {
	out := ""
	for _, x := range s {
		out += x + "\n"
	}
	return out
}
