package file

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

const (
	// debounce gathers the burst of events of one change (Kubernetes writes a new
	// directory, swaps ..data, then removes the old one) into one check.
	debounce = 20 * time.Millisecond
	// pollEvery is the backstop for changes fsnotify cannot see (some network and FUSE
	// filesystems, a directory that did not exist when the watch started).
	pollEvery = 30 * time.Second
)

// Watch watches the directories that hold refs (never the files: Kubernetes replaces the
// ..data symlink and an editor renames a new file over the old, both of which end a watch
// on the file itself) and calls changed when the content of any of them differs from
// what it was. It compares content hashes, so a touch or a chmod is not a change.
func (b *Backend) Watch(ctx context.Context, refs []fetcher.Ref, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("starting file watch: %w", err)
	}
	defer w.Close()

	files := map[string]bool{}
	dirs := map[string]bool{}
	for _, r := range refs {
		if p, ok := b.path(r.Path); ok {
			files[p] = true
			dirs[filepath.Dir(p)] = true
		}
	}
	addWatches := func() {
		for d := range dirs {
			if err := w.Add(d); err != nil {
				b.log.Debug("cannot watch directory yet; polling", zap.String("dir", d), zap.Error(err))
			}
		}
	}
	addWatches()
	// The baseline is what the refresh read, not what is there now: a change in between
	// is reported by the first check, right below.
	last := b.hashAll(ctx, files, true)
	check := func() {
		if now := b.hashAll(ctx, files, false); now != last {
			last = now
			b.log.Debug("source files changed", zap.String("dir", b.dir))
			changed()
		}
	}
	check()
	if b.watching != nil {
		b.watching()
	}

	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			settle.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			b.log.Warn("file watch error; the poll backstop continues", zap.Error(err))
		case <-settle.C:
			check()
			if b.checked != nil {
				b.checked()
			}
		case <-poll.C:
			addWatches() // re-adds are no-ops; this picks up directories that appeared
			check()
		}
	}
}

// hashReadTimeout bounds each read of the watcher's hashing (a hung mount).
const hashReadTimeout = 10 * time.Second

// hashAll summarises the content (or absence) of every file in one hash. It reads as
// Fetch does: never a FIFO or a device, never past the deadline. With fetched, a file
// Fetch has read counts as what Fetch read (the baseline).
func (b *Backend) hashAll(ctx context.Context, files map[string]bool, fetched bool) [32]byte {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	h := sha256.New()
	for _, p := range paths {
		d, ok := b.lastRead(p)
		if !fetched || !ok {
			rctx, cancel := context.WithTimeout(ctx, hashReadTimeout)
			data, err := readFile(rctx, p)
			cancel()
			d = fileDigest(p, data, err)
		}
		h.Write(d[:])
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// fileDigest is the hash of one read: its path, and its content or its error.
func fileDigest(p string, data []byte, err error) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
	if err != nil {
		fmt.Fprintf(h, "error:%v\x00", err)
	}
	h.Write(data)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
