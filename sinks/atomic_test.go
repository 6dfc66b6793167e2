package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs the test under umask m, so that modes are checked when the umask would
// widen nothing (0) and when it would narrow them (077): the final mode must be exact.
func withUmask(t *testing.T, m int) {
	old := syscall.Umask(m)
	t.Cleanup(func() { syscall.Umask(old) })
}

// watchCreated records the mode, owner and size of every temporary file at the moment it
// is created, before the sink sets its mode and owner and writes a byte.
type created struct {
	path     string
	perm     os.FileMode
	uid, gid int
	size     int64
}

func watchCreated(t *testing.T) *[]created {
	var seen []created
	hookCreated = func(path string) {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Errorf("stat %s: %v", path, err)
			return
		}
		st := fi.Sys().(*syscall.Stat_t)
		seen = append(seen, created{path, fi.Mode().Perm(), int(st.Uid), int(st.Gid), fi.Size()})
	}
	t.Cleanup(func() { hookCreated = nil })
	return &seen
}

// failWrites makes every write after the first n bytes fail, as a full disk would.
func failWrites(t *testing.T, n int) {
	writeData = func(f *os.File, b []byte) (int, error) {
		if len(b) <= n {
			return f.Write(b)
		}
		w, _ := f.Write(b[:n])
		return w, syscall.ENOSPC
	}
	t.Cleanup(func() { writeData = func(f *os.File, b []byte) (int, error) { return f.Write(b) } })
}

func statOf(t *testing.T, path string) (os.FileInfo, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

func TestWriteAtomicMode(t *testing.T) {
	for _, umask := range []int{0, 0o077} {
		for _, mode := range []os.FileMode{0o440, 0o400, 0o640, 0o600, 0o444, 0o040} {
			t.Run(fmt.Sprintf("umask %03o mode %04o", umask, mode), func(t *testing.T) {
				withUmask(t, umask)
				seen := watchCreated(t)
				path := filepath.Join(t.TempDir(), "out.env")
				if _, err := WriteAtomic(path, []byte("x"), FileOptions{Mode: mode, UID: -1, GID: -1}); err != nil {
					t.Fatal(err)
				}
				if fi, _ := statOf(t, path); fi.Mode() != mode {
					t.Errorf("got mode %v, want %v", fi.Mode(), mode)
				}
				if len(*seen) != 1 {
					t.Fatalf("got %d temporary files, want 1", len(*seen))
				}
				if c := (*seen)[0]; c.perm&^mode != 0 || c.size != 0 {
					t.Errorf("temporary file was created %v with %d bytes; want no bit beyond %v and empty", c.perm, c.size, mode)
				}
			})
		}
	}
}

func TestWriteAtomicOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	for _, c := range []struct{ uid, gid, wantUID, wantGID int }{
		{1234, 5678, 1234, 5678},
		{-1, 5678, 0, 5678},
		{1234, -1, 1234, 0},
		{-1, -1, 0, 0},
	} {
		t.Run(fmt.Sprintf("%d:%d", c.uid, c.gid), func(t *testing.T) {
			seen := watchCreated(t)
			path := filepath.Join(t.TempDir(), "out.env")
			o := FileOptions{Mode: 0o440, UID: c.uid, GID: c.gid}
			if _, err := WriteAtomic(path, []byte("x"), o); err != nil {
				t.Fatal(err)
			}
			if _, st := statOf(t, path); int(st.Uid) != c.wantUID || int(st.Gid) != c.wantGID {
				t.Errorf("got owner %d:%d, want %d:%d", st.Uid, st.Gid, c.wantUID, c.wantGID)
			}
			if got := (*seen)[0]; got.size != 0 || got.perm&^0o440 != 0 {
				t.Errorf("temporary file held %d bytes with mode %v before its owner was set", got.size, got.perm)
			}
			if changed, err := WriteAtomic(path, []byte("x"), o); err != nil || changed {
				t.Errorf("rewrite: got changed=%v err=%v, want no change", changed, err)
			}
		})
	}
}

func TestWriteAtomicUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.env")
	o := FileOptions{Mode: 0o440, UID: -1, GID: -1}
	if changed, err := WriteAtomic(path, []byte("v1"), o); err != nil || !changed {
		t.Fatalf("first write: got changed=%v err=%v", changed, err)
	}
	_, before := statOf(t, path)
	if changed, err := WriteAtomic(path, []byte("v1"), o); err != nil || changed {
		t.Fatalf("same content: got changed=%v err=%v, want unchanged", changed, err)
	}
	if _, after := statOf(t, path); after.Ino != before.Ino {
		t.Error("same content: the file was replaced")
	}
	if changed, _ := WriteAtomic(path, []byte("v1"), FileOptions{Mode: 0o400, UID: -1, GID: -1}); !changed {
		t.Error("new mode: got unchanged")
	}
	if changed, _ := WriteAtomic(path, []byte("v2"), FileOptions{Mode: 0o400, UID: -1, GID: -1}); !changed {
		t.Error("new content: got unchanged")
	}
}

// TestWriteAtomicFailureKeepsPrevious fails the write halfway, as a full tmpfs would, and
// checks that the previous output is untouched and no temporary file is left.
func TestWriteAtomicFailureKeepsPrevious(t *testing.T) {
	for _, format := range []string{"dotenv", "shell", "docker", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			sink, err := New(format, path, FileOptions{Mode: DefaultMode, UID: -1, GID: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sink.Write(context.Background(), snapshotOf("A", "old value", "B", "kept")); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			failWrites(t, 5)
			_, err = sink.Write(context.Background(), snapshotOf("A", "new value, longer than five bytes", "B", "kept"))
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("got %v, want ENOSPC", err)
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("after a failed write got %q (%v), want the previous %q", after, err, before)
			}
			if fi, _ := statOf(t, path); fi.Mode() != DefaultMode {
				t.Errorf("got mode %v, want %v", fi.Mode(), DefaultMode)
			}
			assertOnly(t, dir, "out")
		})
	}
}

// assertOnly checks that dir holds exactly names.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// TestWriteAtomicReplacesPlanted plants a symlink and a hard link at the output path,
// each to a victim file, and checks that the write replaces the link and leaves the victim.
func TestWriteAtomicReplacesPlanted(t *testing.T) {
	for _, kind := range []string{"symlink", "hardlink", "dangling symlink"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "out.env")
			var err error
			switch kind {
			case "symlink":
				err = os.Symlink(victim, path)
			case "hardlink":
				err = os.Link(victim, path)
			case "dangling symlink":
				err = os.Symlink(filepath.Join(dir, "nowhere"), path)
			}
			if err != nil {
				t.Fatal(err)
			}
			sink, err := New("dotenv", path, FileOptions{Mode: DefaultMode, UID: -1, GID: -1})
			if err != nil {
				t.Fatal(err)
			}
			if changed, err := sink.Write(context.Background(), snapshotOf("A", "victim")); err != nil || !changed {
				t.Fatalf("got changed=%v err=%v", changed, err)
			}
			if got, _ := os.ReadFile(victim); string(got) != "victim" {
				t.Errorf("the victim now holds %q", got)
			}
			if fi, _ := statOf(t, path); !fi.Mode().IsRegular() {
				t.Errorf("%s is %v, want a regular file", path, fi.Mode())
			}
			if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
				t.Error("the write went through the dangling symlink")
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, f := range Formats {
		s, err := New(f, filepath.Join(t.TempDir(), "out"), FileOptions{Mode: DefaultMode, UID: -1, GID: -1})
		if err != nil {
			t.Errorf("New(%q): %v", f, err)
			continue
		}
		if f == "template" {
			continue // renders a template, not variables: rendered_test.go
		}
		snap := snapshotOf("A", "1", "A", "2")
		if err := s.Check(snap); !isRefusal(t, err, f, "") {
			t.Errorf("%s: a repeated name: got %v, want a refusal", f, err)
		}
		if err := s.Check(snapshotOf("1A", "x")); !isRefusal(t, err, f, "") {
			t.Errorf("%s: an invalid name: got %v, want a refusal", f, err)
		}
		if _, err := s.Write(context.Background(), snap); err == nil {
			t.Errorf("%s: Write accepted what Check refuses", f)
		}
	}
	if _, err := New("yaml", "x", FileOptions{}); err == nil {
		t.Error("New accepted an unknown format")
	}
}
