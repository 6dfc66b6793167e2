package sinks

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestStageThenCommit: Stage writes the new content beside the output without touching
// it; a Commit whose rename fails leaves the old output and the staged file, and a later
// Commit makes it live. For both kinds of sink.
func TestStageThenCommit(t *testing.T) {
	for _, format := range []string{"dotenv", "files"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			s, err := New(format, path, FileOptions{Mode: 0o600, UID: -1, GID: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(t.Context(), snapshotOf("A", "old")); err != nil {
				t.Fatal(err)
			}
			read := func() string {
				p := path
				if format == "files" {
					p = filepath.Join(path, "A")
				}
				b, _ := os.ReadFile(p)
				return string(b)
			}
			before := read()
			st, err := s.Stage(t.Context(), snapshotOf("A", "new"))
			if err != nil || st == nil {
				t.Fatalf("Stage: %v, %v", st, err)
			}
			if got := read(); got != before {
				t.Fatalf("Stage changed the output: %q, want %q", got, before)
			}
			failRename := errors.New("injected rename failure")
			renameFile = func(string, string) error { return failRename }
			var live bool
			if format == "dotenv" { // the files format renames through renameat, not this seam
				live, err = st.Commit()
				if live || !errors.Is(err, failRename) || read() != before {
					t.Fatalf("failed rename: live=%v err=%v output %q", live, err, read())
				}
			}
			renameFile = os.Rename
			if live, err = st.Commit(); !live || err != nil {
				t.Fatalf("second Commit: live=%v err=%v", live, err)
			}
			if got := read(); got == before {
				t.Errorf("output still %q after Commit", got)
			}
			st.Abort() // after going live: removes nothing
			if got := read(); got == before {
				t.Errorf("Abort after Commit undid the write")
			}
		})
	}
}

// TestFilesRemovesByDescriptor: the files sink removes a generation through the
// descriptor of the directory it opened, so a symlink planted at the output's path
// meanwhile (pointing at a victim directory holding the same name) cannot redirect the
// removal.
func TestFilesRemovesByDescriptor(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "out")
	s, err := New("files", out, FileOptions{Mode: 0o600, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stage(t.Context(), snapshotOf("A", "v"))
	if err != nil {
		t.Fatal(err)
	}
	gen := st.(*dirStage).gen
	// The other container moves the directory away and plants a symlink to a victim.
	if err := os.Rename(out, out+".moved"); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(root, "victim")
	os.MkdirAll(filepath.Join(victim, gen), 0o700)
	os.WriteFile(filepath.Join(victim, gen, "precious"), []byte("keep"), 0o600)
	if err := os.Symlink(victim, out); err != nil {
		t.Fatal(err)
	}
	st.Abort()
	if _, err := os.Stat(filepath.Join(victim, gen, "precious")); err != nil {
		t.Errorf("the victim's file was removed through the planted symlink: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out+".moved", gen)); err == nil {
		t.Errorf("the staged generation in the real directory was not removed")
	}
}
