package sinks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func newFiles(t *testing.T, dir string, o FileOptions) Sink {
	t.Helper()
	s, err := New("files", dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustWrite(t *testing.T, s Sink, snap Snapshot) bool {
	t.Helper()
	changed, err := s.Write(context.Background(), snap)
	if err != nil {
		t.Fatal(err)
	}
	return changed
}

// generations lists the generation directories in dir.
func generations(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gens []string
	for _, e := range entries {
		if genName.MatchString(e.Name()) {
			gens = append(gens, e.Name())
		}
	}
	return gens
}

func dirModeFor(m os.FileMode) os.FileMode { return (&dirSink{opts: FileOptions{Mode: m}}).dirMode() }

func TestFilesDirMode(t *testing.T) {
	for _, c := range []struct{ file, dir os.FileMode }{
		{0o440, 0o750}, {0o400, 0o700}, {0o444, 0o755}, {0o640, 0o750}, {0o600, 0o700}, {0o404, 0o705},
	} {
		if got := dirModeFor(c.file); got != c.dir {
			t.Errorf("files %v: got directories %v, want %v", c.file, got, c.dir)
		}
	}
}

// assertFiles checks the whole layout: one generation, ..data pointing at it, holding
// exactly snap's files with mode and content, and a NAME -> ..data/NAME symlink each.
func assertFiles(t *testing.T, dir string, snap Snapshot, mode os.FileMode) {
	t.Helper()
	gens := generations(t, dir)
	if len(gens) != 1 {
		t.Fatalf("got generations %q, want one", gens)
	}
	if target, err := os.Readlink(filepath.Join(dir, dataLink)); err != nil || target != gens[0] {
		t.Fatalf("..data -> %q (%v), want %q", target, err, gens[0])
	}
	if fi, _ := statOf(t, filepath.Join(dir, gens[0])); fi.Mode().Perm() != dirModeFor(mode) {
		t.Errorf("generation mode %v, want %v", fi.Mode().Perm(), dirModeFor(mode))
	}
	want := []string{dataLink, gens[0]}
	for _, v := range snap.Vars {
		want = append(want, v.Name)
		p := filepath.Join(dir, gens[0], v.Name)
		if fi, _ := statOf(t, p); fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
		if target, err := os.Readlink(filepath.Join(dir, v.Name)); err != nil || target != dataLink+"/"+v.Name {
			t.Errorf("%s -> %q (%v), want ..data/%s", v.Name, target, err, v.Name)
		}
		if got, err := os.ReadFile(filepath.Join(dir, v.Name)); err != nil || string(got) != string(v.Value.Reveal()) {
			t.Errorf("%s holds %q (%v), want %q", v.Name, got, err, v.Value.Reveal())
		}
	}
	slices.Sort(want)
	assertOnly(t, dir, want...)
}

func TestFilesLayout(t *testing.T) {
	withUmask(t, 0o022)
	dir := filepath.Join(t.TempDir(), "secrets")
	s := newFiles(t, dir, FileOptions{Mode: DefaultMode, UID: -1, GID: -1})
	seen := watchCreated(t)
	snap := snapshotOf("A", "1", "BIN", "nul\x00 and \xff\xfe", "EMPTY", "", "PEM", pem)
	if !mustWrite(t, s, snap) {
		t.Fatal("first write: got unchanged")
	}
	assertFiles(t, dir, snap, DefaultMode)
	for _, c := range *seen {
		if c.perm&^DefaultMode != 0 || c.size != 0 {
			t.Errorf("%s was created %v with %d bytes; want no bit beyond %v and empty", c.path, c.perm, c.size, DefaultMode)
		}
	}
	if len(*seen) != len(snap.Vars) {
		t.Errorf("got %d files created, want %d", len(*seen), len(snap.Vars))
	}

	gen := generations(t, dir)[0]
	if mustWrite(t, s, snap) {
		t.Error("same snapshot: got changed")
	}
	if got := generations(t, dir); got[0] != gen {
		t.Errorf("same snapshot: generation %s replaced by %s", gen, got[0])
	}

	next := snapshotOf("A", "2", "C", "new")
	if !mustWrite(t, s, next) {
		t.Fatal("new snapshot: got unchanged")
	}
	assertFiles(t, dir, next, DefaultMode) // BIN, EMPTY, PEM gone, C added, one generation

	if !mustWrite(t, newFiles(t, dir, FileOptions{Mode: 0o400, UID: -1, GID: -1}), next) {
		t.Error("new mode: got unchanged")
	}
	assertFiles(t, dir, next, 0o400)
}

func TestFilesOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	dir := t.TempDir()
	snap := snapshotOf("A", "1")
	mustWrite(t, newFiles(t, dir, FileOptions{Mode: 0o440, UID: 1234, GID: 5678}), snap)
	if _, st := statOf(t, filepath.Join(dir, dataLink, "A")); st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("got owner %d:%d, want 1234:5678", st.Uid, st.Gid)
	}
	if mustWrite(t, newFiles(t, dir, FileOptions{Mode: 0o440, UID: 1234, GID: 5678}), snap) {
		t.Error("same owner: got changed")
	}
	if !mustWrite(t, newFiles(t, dir, FileOptions{Mode: 0o440, UID: -1, GID: 99}), snap) {
		t.Error("new group: got unchanged")
	}
	if _, st := statOf(t, filepath.Join(dir, dataLink, "A")); st.Uid != 0 || st.Gid != 99 {
		t.Errorf("got owner %d:%d, want 0:99", st.Uid, st.Gid)
	}
}

// TestFilesReachableByOwnerOnly reads a variable as other users, through the real kernel
// permission checks: the output's owner (or group) gets in, anybody else does not.
func TestFilesReachableByOwnerOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a reader as another user needs root")
	}
	for _, c := range []struct {
		name    string
		o       FileOptions
		in, out [2]uint32 // uid, gid of a reader that gets in, of one that does not
	}{
		{"owner 0400", FileOptions{Mode: 0o400, UID: 1234, GID: -1}, [2]uint32{1234, 1}, [2]uint32{4321, 0}},
		{"group 0440", FileOptions{Mode: 0o440, UID: -1, GID: 5678}, [2]uint32{4321, 5678}, [2]uint32{4321, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			for _, d := range []string{base, filepath.Dir(base)} {
				if err := os.Chmod(d, 0o755); err != nil { // t.TempDir makes them 0700
					t.Fatal(err)
				}
			}
			dir := filepath.Join(base, "secrets")
			mustWrite(t, newFiles(t, dir, c.o), snapshotOf("A", "value"))
			if err := readAs(c.in, filepath.Join(dir, "A")); err != nil {
				t.Errorf("uid:gid %v cannot read: %v", c.in, err)
			}
			if err := readAs(c.out, filepath.Join(dir, "A")); err == nil {
				t.Errorf("uid:gid %v can read", c.out)
			}
		})
	}
}

func readAs(who [2]uint32, path string) error {
	cmd := exec.Command("/bin/cat", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: who[0], Gid: who[1], Groups: []uint32{who[1]}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// TestFilesFailureKeepsPrevious fails the second file of a new generation halfway and
// checks that readers still see the previous generation, byte for byte, and nothing else.
func TestFilesFailureKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	s := newFiles(t, dir, FileOptions{Mode: DefaultMode, UID: -1, GID: -1})
	old := snapshotOf("A", "old a", "B", "old b")
	mustWrite(t, s, old)
	failWrites(t, 5)
	_, err := s.Write(context.Background(), snapshotOf("A", "new", "B", "new b, longer than five", "C", "c"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	assertFiles(t, dir, old, DefaultMode)
}

// TestFilesPlanted plants, in the shared directory, symlinks to a victim where the sink
// writes, and checks that each is replaced, never written through, and the victim kept.
func TestFilesPlanted(t *testing.T) {
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "victim")
	plants := map[string]func(dir string) error{
		"NAME symlink to a file":  func(dir string) error { return os.Symlink(victim, filepath.Join(dir, "A")) },
		"NAME regular file":       func(dir string) error { return os.WriteFile(filepath.Join(dir, "A"), []byte("planted"), 0o644) },
		"..data symlink to a dir": func(dir string) error { return os.Symlink(victimDir, filepath.Join(dir, dataLink)) },
		"..data to a generation-named symlink": func(dir string) error {
			gen := "..2000_01_01_00_00_00.000000000"
			if err := os.Symlink(victimDir, filepath.Join(dir, gen)); err != nil {
				return err
			}
			return os.Symlink(gen, filepath.Join(dir, dataLink))
		},
		"..data_tmp directory": func(dir string) error { return os.Mkdir(filepath.Join(dir, dataLinkTmp), 0o755) },
		"link tmp symlink":     func(dir string) error { return os.Symlink(victim, filepath.Join(dir, linkTmpPrefix+"A")) },
		"crash leftovers": func(dir string) error {
			for _, p := range []string{dataLinkTmp, linkTmpPrefix + "GONE"} {
				if err := os.Symlink(victim, filepath.Join(dir, p)); err != nil {
					return err
				}
			}
			return os.Mkdir(filepath.Join(dir, "..2001_01_01_00_00_00.000000000"), 0o700)
		},
	}
	for name, plant := range plants {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := plant(dir); err != nil {
				t.Fatal(err)
			}
			snap := snapshotOf("A", "secret a", "victim", "secret v")
			mustWrite(t, newFiles(t, dir, FileOptions{Mode: DefaultMode, UID: -1, GID: -1}), snap)
			assertFiles(t, dir, snap, DefaultMode)
			if got, _ := os.ReadFile(victim); string(got) != "victim" {
				t.Errorf("the victim now holds %q", got)
			}
			assertOnly(t, victimDir, "victim")
		})
	}
	t.Run("NAME directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "A"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := newFiles(t, dir, FileOptions{Mode: DefaultMode, UID: -1, GID: -1}).Write(context.Background(), snapshotOf("A", "x"))
		if err == nil || !strings.Contains(err.Error(), "remove it") {
			t.Errorf("got %v, want an error that says to remove the directory", err)
		}
	})
}

// TestFilesConcurrentReader swaps generations while readers read, and checks that a
// reader never sees a mix: one that resolves ..data once, reads the generation and finds
// ..data unchanged after reads every file of one generation and exactly its names (and
// even when ..data changed meanwhile, never files of two generations); one that reads
// NAME through its symlink gets a whole value, never older than one it saw before.
func TestFilesConcurrentReader(t *testing.T) {
	dir := t.TempDir()
	s := newFiles(t, dir, FileOptions{Mode: DefaultMode, UID: -1, GID: -1})
	snapFor := func(n int) Snapshot {
		kv := []string{"A", fmt.Sprintf("gen-%d-A", n), "B", fmt.Sprintf("gen-%d-B", n)}
		if n%2 == 0 {
			kv = append(kv, "EVEN", fmt.Sprintf("gen-%d-EVEN", n))
		}
		return snapshotOf(kv...)
	}
	mustWrite(t, s, snapFor(0))

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	reads := make([]int, 2)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	wg.Go(func() { // a generation at a time, the way docs/formats.md tells readers to
		for ctx.Err() == nil {
			before, err := os.Readlink(filepath.Join(dir, dataLink))
			if err != nil {
				report("reading ..data: %v", err)
				continue
			}
			root, err := os.OpenRoot(filepath.Join(dir, before))
			if err != nil {
				continue // pruned since: retry
			}
			gen, names, ok := readGeneration(root)
			root.Close()
			if gen == -2 {
				report("%s", names[0])
				continue
			}
			if after, _ := os.Readlink(filepath.Join(dir, dataLink)); after != before || !ok {
				continue // swapped while reading, so maybe being pruned: retry
			}
			want := []string{"A", "B"}
			if gen%2 == 0 {
				want = []string{"A", "B", "EVEN"}
			}
			if !slices.Equal(names, want) {
				report("generation %d holds %q, want %q", gen, names, want)
			}
			reads[0]++
		}
	})
	wg.Go(func() { // one file through its symlink
		last := -1
		for ctx.Err() == nil {
			b, err := os.ReadFile(filepath.Join(dir, "A"))
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					report("reading A: %v", err)
				}
				continue
			}
			n, ok := genOf(string(b), "A")
			if !ok || n < last {
				report("read A = %q after generation %d", b, last)
			}
			last = n
			reads[1]++
		}
	})
	const swaps = 100
	for n := 1; n <= swaps; n++ {
		if _, err := s.Write(ctx, snapFor(n)); err != nil {
			t.Error(err)
			break
		}
	}
	stop()
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if reads[0] == 0 || reads[1] == 0 {
		t.Errorf("the readers completed %v reads; the test proved nothing", reads)
	}
	t.Logf("reads during %d swaps: %d whole generations, %d single files", swaps, reads[0], reads[1])
	assertFiles(t, dir, snapFor(swaps), DefaultMode)
}

// readGeneration reads every file of the generation open as root; all must name the same
// generation. ok is false when a file vanished (the generation was pruned meanwhile).
func readGeneration(root *os.Root) (gen int, names []string, ok bool) {
	f, err := root.Open(".")
	if err != nil {
		return 0, nil, false
	}
	names, err = f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return 0, nil, false
	}
	slices.Sort(names)
	gen = -1
	for _, name := range names {
		b, err := root.ReadFile(name)
		if err != nil {
			return 0, nil, false
		}
		n, valid := genOf(string(b), name)
		if !valid || (gen >= 0 && n != gen) {
			return -2, []string{fmt.Sprintf("mixed: %s=%q in generation %d", name, b, gen)}, true
		}
		gen = n
	}
	return gen, names, len(names) > 0
}

// genOf parses "gen-N-NAME".
func genOf(v, name string) (int, bool) {
	rest, ok := strings.CutPrefix(v, "gen-")
	if !ok {
		return 0, false
	}
	num, suffix, ok := strings.Cut(rest, "-")
	if !ok || suffix != name {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil
}
