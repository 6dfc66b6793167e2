package sinks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The symlink half of the files format: swapping ..data, the per-name links, and pruning
// what an older generation or a crashed write left. See dirSink for the layout.

// link points each name at ..data/name.
func (s *dirSink) link(dfd int, snap Snapshot) error {
	for _, v := range snap.Vars {
		target := dataLink + "/" + v.Name
		if got, err := readlinkat(dfd, v.Name); err == nil && got == target {
			continue
		}
		if err := s.symlinkOver(dfd, target, linkTmpPrefix+v.Name, v.Name); err != nil {
			return err
		}
	}
	return nil
}

// symlinkOver makes name a symlink to target by creating it as tmp and renaming it over
// name, which replaces a file or symlink at name instead of following it.
func (s *dirSink) symlinkOver(dfd int, target, tmp, name string) error {
	if err := unix.Unlinkat(dfd, tmp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		if err := removeAllAt(dfd, tmp); err != nil {
			return fmt.Errorf("removing leftover %s: %w", filepath.Join(s.dir, tmp), err)
		}
	}
	if err := unix.Symlinkat(target, dfd, tmp); err != nil {
		return fmt.Errorf("creating symlink %s: %w", filepath.Join(s.dir, tmp), err)
	}
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("replacing %s (a directory there was not made by this sink; remove it): %w", filepath.Join(s.dir, name), err)
	}
	return nil
}

// prune removes the symlinks of names no longer in snap and every generation but gen.
func (s *dirSink) prune(d *os.File, snap Snapshot, gen string) error {
	dfd := int(d.Fd())
	stale, err := staleLinks(dfd, snap)
	if err != nil {
		return fmt.Errorf("listing %s: %w", s.dir, err)
	}
	for _, name := range stale {
		if err := unix.Unlinkat(dfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("removing %s: %w", filepath.Join(s.dir, name), err)
		}
	}
	names, err := readDirNames(dfd)
	if err != nil {
		return fmt.Errorf("listing %s: %w", s.dir, err)
	}
	for _, name := range names {
		switch {
		case genName.MatchString(name) && name != gen:
			if err := s.removeGeneration(dfd, name); err != nil {
				return fmt.Errorf("removing old generation: %w", err)
			}
		case name == dataLinkTmp || strings.HasPrefix(name, linkTmpPrefix):
			// A crashed write's temporary symlink; only a symlink is ours to remove.
			if _, err := readlinkat(dfd, name); err == nil {
				_ = unix.Unlinkat(dfd, name, 0)
			}
		}
	}
	return nil
}

// removeGeneration removes the generation directory gen from the output directory open at
// dfd, and nothing else.
func (s *dirSink) removeGeneration(dfd int, gen string) error {
	if !genName.MatchString(gen) {
		return fmt.Errorf("refusing to remove %q from %s: not a generation", gen, s.dir)
	}
	if err := removeAllAt(dfd, gen); err != nil {
		return fmt.Errorf("removing %s: %w", filepath.Join(s.dir, gen), err)
	}
	return nil
}

// removeAllAt removes name, recursively, from the directory open at dfd. Every step is
// relative to a descriptor opened with O_NOFOLLOW: no path is resolved from the root, so a
// symlink planted at the output directory's path (or anywhere inside) cannot redirect the
// removal elsewhere.
func removeAllAt(dfd int, name string) error {
	err := unix.Unlinkat(dfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	cfd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := readDirNames(cfd)
	for _, n := range names {
		if err == nil {
			err = removeAllAt(cfd, n)
		}
	}
	unix.Close(cfd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// staleLinks lists the symlinks in dir that point into ..data for a name not in snap.
func staleLinks(dfd int, snap Snapshot) ([]string, error) {
	names, err := readDirNames(dfd)
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, name := range names {
		target, err := readlinkat(dfd, name)
		if err != nil {
			continue // not a symlink
		}
		if rest, ok := strings.CutPrefix(target, dataLink+"/"); ok && rest == name {
			if _, in := snap.Get(name); !in {
				stale = append(stale, name)
			}
		}
	}
	return stale, nil
}

// readDirNames lists the directory open at dfd, from its start, through a new descriptor
// so that the caller's offset is untouched.
func readDirNames(dfd int) ([]string, error) {
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

func readlinkat(dfd int, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}
