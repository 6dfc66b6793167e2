package sinks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sys/unix"
)

// dirSink is the files format: one file per variable, named after it, holding the raw
// value (any bytes, NUL and non-UTF-8 included: nothing is refused but invalid or repeated
// names), for applications that read /run/secrets/NAME-style files. Files get the output
// mode and owner; directories the same owner and the mode dirMode derives from it (0750 for
// 0440).
//
// The directory is laid out and swapped the way Kubernetes' AtomicWriter does it for
// secret and configMap volumes, so readers (and watchers written for Kubernetes) behave:
//
//	dir/..2026_11_28_23_40_01.123456789/NAME   a generation: real files, mode and owner set
//	dir/..data -> ..2026_11_28_23_40_01.123456789
//	dir/NAME   -> ..data/NAME
//
// A write that changes anything creates a new generation directory, writes, chmods, chowns
// and fsyncs every file in it, fsyncs it, then points a new ..data_tmp symlink at it and
// renames that over ..data: one atomic step, after which a reader opening dir/NAME gets the
// new generation and one that resolved ..data earlier still reads the old one whole. Then
// the per-name symlinks are created (each by renaming a temporary symlink over the name,
// which replaces whatever was planted there), symlinks of names no longer present are
// removed, and so are older generations.
//
// The directory is shared with another container, so nothing in it is trusted: every
// operation is relative to an open descriptor of dir; files are created with O_EXCL and
// opened with O_NOFOLLOW; entries are replaced by rename, which replaces a symlink rather
// than writing through it; ..data counts as ours only when it points at a name of the
// generation pattern. When the current generation already holds exactly the snapshot,
// with the wanted mode and owner, and every name's symlink is in place, nothing is written.
type dirSink struct {
	dir    string
	opts   FileOptions
	tidied bool // crash leftovers removed (leftovers.go)
}

var _ Sink = (*dirSink)(nil)

const (
	dataLink      = "..data"
	dataLinkTmp   = "..data_tmp"
	linkTmpPrefix = "..link_tmp_"
	genLayout     = "..2006_01_02_15_04_05.000000000"
)

var genName = regexp.MustCompile(`^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}$`)

func (s *dirSink) Path() string { return s.dir }

func (s *dirSink) Check(snap Snapshot) error { return checkNames("files", snap) }

func (s *dirSink) Write(ctx context.Context, snap Snapshot) (bool, error) {
	st, err := s.Stage(ctx, snap)
	if err != nil || st == nil {
		return false, err
	}
	live, err := st.Commit()
	if !live {
		st.Abort()
	}
	return live, err
}

// dirStage is a complete new generation, not yet pointed at by ..data. It holds the open
// output directory: every later step is relative to that descriptor.
type dirStage struct {
	s    *dirSink
	d    *os.File
	gen  string
	snap Snapshot
	live bool
}

func (s *dirSink) Stage(ctx context.Context, snap Snapshot) (Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.Check(snap); err != nil {
		return nil, err
	}
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	// O_NOFOLLOW: the directory itself may be a symlink planted by another container.
	d, err := os.OpenFile(filepath.Clean(s.dir), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if fi, lerr := os.Lstat(filepath.Clean(s.dir)); err != nil && lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symlink; refusing to write through it", s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", s.dir, err)
	}
	dfd := int(d.Fd())
	if s.current(dfd, snap) {
		if !s.tidied { // a crash's unfinished generation, when nothing else will prune it
			s.tidied = true
			live, _ := readlinkat(dfd, dataLink)
			_ = s.prune(d, snap, live)
		}
		d.Close()
		return nil, nil
	}
	s.tidied = true // the commit prunes
	gen, err := s.writeGeneration(dfd, snap)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &dirStage{s: s, d: d, gen: gen, snap: snap}, nil
}

// Commit swaps ..data to the new generation (the one step readers see), then links the
// names and prunes. An error after the swap leaves readers of ..data correct and is
// repaired by the next write.
func (st *dirStage) Commit() (bool, error) {
	dfd := int(st.d.Fd())
	if !st.live {
		if err := st.s.symlinkOver(dfd, st.gen, dataLinkTmp, dataLink); err != nil {
			return false, err
		}
		st.live = true
	}
	defer st.d.Close()
	if err := unix.Fsync(dfd); err != nil {
		return true, fmt.Errorf("syncing %s: %w", st.s.dir, err)
	}
	if err := st.s.link(dfd, st.snap); err != nil {
		return true, err
	}
	if err := st.s.prune(st.d, st.snap, st.gen); err != nil {
		return true, err
	}
	if err := unix.Fsync(dfd); err != nil {
		return true, fmt.Errorf("syncing %s: %w", st.s.dir, err)
	}
	return true, nil
}

// Abort removes the generation of a stage that did not go live.
func (st *dirStage) Abort() {
	if !st.live {
		_ = st.s.removeGeneration(int(st.d.Fd()), st.gen)
		st.d.Close()
	}
}

// dirMode is the mode of a directory holding files of the output mode: the owner's rwx,
// and r-x for group and others where the files are readable by them, so that a directory
// is never more open than its files and always open enough to reach them.
func (s *dirSink) dirMode() os.FileMode {
	read := s.opts.Mode.Perm() & 0o044
	return 0o700 | read | read>>2
}

// makeDir creates the output directory, when missing, with dirMode and the output owner;
// one that exists is left as the operator made it.
func (s *dirSink) makeDir() error {
	if _, err := os.Lstat(s.dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil // exists (or cannot be looked at: opening it will say why)
	}
	if err := os.MkdirAll(s.dir, s.dirMode()); err != nil {
		return fmt.Errorf("creating %s: %w", s.dir, err)
	}
	d, err := os.OpenFile(filepath.Clean(s.dir), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0) // not a symlink swapped in since
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.dir, err)
	}
	defer d.Close()
	if err := s.chownDir(d); err != nil {
		return err
	}
	if err := d.Chmod(s.dirMode()); err != nil {
		return fmt.Errorf("setting mode of %s: %w", s.dir, err)
	}
	return nil
}

// chownDir gives a directory the output's owner, so that an owner-only mode (0400 for
// uid 1000, say) lets that owner through.
func (s *dirSink) chownDir(d *os.File) error {
	if s.opts.UID < 0 && s.opts.GID < 0 {
		return nil
	}
	if err := d.Chown(s.opts.UID, s.opts.GID); err != nil {
		return fmt.Errorf("setting owner of %s: %w", d.Name(), err)
	}
	return nil
}

// current reports whether dir already shows exactly snap, without following any symlink
// but the ..data one into a directory of ours.
func (s *dirSink) current(dfd int, snap Snapshot) bool {
	gen, err := readlinkat(dfd, dataLink)
	if err != nil || !genName.MatchString(gen) {
		return false
	}
	gfd, err := unix.Openat(dfd, gen, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	g := os.NewFile(uintptr(gfd), gen)
	defer g.Close()
	names, err := g.Readdirnames(-1)
	if err != nil || len(names) != len(snap.Vars) {
		return false
	}
	for _, v := range snap.Vars {
		if !sameAt(gfd, v.Name, v.Value.Reveal(), s.opts) {
			return false
		}
		if target, err := readlinkat(dfd, v.Name); err != nil || target != dataLink+"/"+v.Name {
			return false
		}
	}
	stale, err := staleLinks(dfd, snap)
	return err == nil && len(stale) == 0
}

func sameAt(dfd int, name string, data []byte, o FileOptions) bool {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return sameFile(f, data, o)
}

// writeGeneration writes snap into a new generation directory and returns its name.
func (s *dirSink) writeGeneration(dfd int, snap Snapshot) (string, error) {
	t := time.Now().UTC()
	var gen string
	for i := 0; ; i++ {
		gen = t.Add(time.Duration(i)).Format(genLayout)
		// 0700 until complete: nobody lists a half-written generation.
		err := unix.Mkdirat(dfd, gen, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) || i == 100 {
			return "", fmt.Errorf("creating %s: %w", filepath.Join(s.dir, gen), err)
		}
	}
	if err := s.fillGeneration(dfd, gen, snap); err != nil {
		_ = s.removeGeneration(dfd, gen)
		return "", err
	}
	return gen, nil
}

// fillGeneration writes snap's files into the new, empty generation directory gen.
func (s *dirSink) fillGeneration(dfd int, gen string, snap Snapshot) error {
	gfd, err := unix.Openat(dfd, gen, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", filepath.Join(s.dir, gen), err)
	}
	g := os.NewFile(uintptr(gfd), filepath.Join(s.dir, gen))
	defer g.Close()
	for _, v := range snap.Vars {
		if err := s.writeFile(gfd, filepath.Join(s.dir, gen, v.Name), v.Name, v.Value.Reveal()); err != nil {
			return err
		}
	}
	if err := s.chownDir(g); err != nil {
		return err
	}
	if err := g.Chmod(s.dirMode()); err != nil {
		return fmt.Errorf("setting mode of %s: %w", g.Name(), err)
	}
	if err := g.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", g.Name(), err)
	}
	return nil
}

// writeFile creates name in the generation directory gfd with the final mode and owner
// set before the first byte, then writes and fsyncs it.
func (s *dirSink) writeFile(gfd int, path, name string, data []byte) error {
	fd, err := unix.Openat(gfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(s.opts.Mode.Perm()&0o600))
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if hookCreated != nil {
		hookCreated(path)
	}
	if err := f.Chmod(s.opts.Mode.Perm()); err != nil {
		return fmt.Errorf("setting mode of %s: %w", path, err)
	}
	if s.opts.UID >= 0 || s.opts.GID >= 0 {
		if err := f.Chown(s.opts.UID, s.opts.GID); err != nil {
			return fmt.Errorf("setting owner of %s: %w", path, err)
		}
	}
	if _, err := writeData(f, data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return f.Close()
}
