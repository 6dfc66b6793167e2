package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// The overlap state file: what the engine remembers of each overlap entry whose backend
// keeps no versions, so a restarted sidecar still knows an open window. It holds secret
// values, and a value planted in it would be written into the application's variable for a
// whole window, so it lives where only the sidecar can write (state_dir, never the shared
// output volume), is opened without following symlinks, and is believed only when it is a
// regular file of this process's user, writable by nobody else, in this format. Anything
// else is ignored with a warning: the window then starts afresh.

// overlapMemo is what the engine remembers of one overlap entry.
type overlapMemo struct {
	Current  fetcher.Value
	Previous fetcher.Value // zero when no window is open
	Since    time.Time     // when Current replaced Previous
}

func sameOverlap(a, b map[string]overlapMemo) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || !x.Current.Equal(y.Current) || !x.Previous.Equal(y.Previous) || !x.Since.Equal(y.Since) {
			return false
		}
	}
	return true
}

// stateFile is the file's format; the only place the values leave fetcher.Value.
type stateFile struct {
	Format  string                `json:"format"`
	Entries map[string]stateEntry `json:"entries"`
}

type stateEntry struct {
	Current  []byte    `json:"current"`
	Previous []byte    `json:"previous,omitempty"`
	Since    time.Time `json:"since,omitzero"`
}

const (
	stateFormat  = "patas-secrets-overlap/1"
	stateMaxSize = 1 << 20
)

// StateDirDefault is the state directory when the config names none: a directory of this
// user under the sidecar's own temporary directory (in a container, its private
// filesystem, not a volume shared with the app).
func StateDirDefault() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("patas-secrets-%d", os.Geteuid()))
}

// statePath is the state file, named after the first output so that two sidecars sharing
// a state directory do not share a file.
func (e *Engine) statePath() string {
	dir := e.cfg.StateDir
	if dir == "" {
		dir = StateDirDefault()
	} else {
		dir = e.cfg.Abs(dir)
	}
	sum := sha256.Sum256([]byte(filepath.Clean(e.sinks[0].Path())))
	return filepath.Join(dir, "overlap-"+hex.EncodeToString(sum[:6])+".json")
}

// privateDir creates dir (0700) when missing and checks that it is a directory of this
// user that nobody else can write, without following a symlink.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory (a symlink?)", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by others (mode %04o; want 0700)", dir, fi.Mode().Perm())
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s belongs to uid %d, not to this process's %d", dir, st.Uid, os.Geteuid())
	}
	return nil
}

// loadOverlapState reads the state file once; a missing file starts empty, and one that is
// not plainly ours is ignored with a warning.
func (e *Engine) loadOverlapState() {
	if e.overlap != nil {
		return
	}
	e.overlap = map[string]overlapMemo{}
	path := e.statePath()
	sf, err := readStateFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		e.log.Warn("ignoring the overlap state file; open windows start afresh", zap.String("path", path), zap.Error(err))
		return
	}
	for name, s := range sf.Entries {
		if !e.isOverlapEntry(name) || len(s.Current) == 0 {
			continue // another config's entry, or nothing to remember
		}
		e.overlap[name] = overlapMemo{Current: fetcher.NewValue(s.Current), Previous: optionalValue(s.Previous), Since: s.Since}
	}
}

func optionalValue(b []byte) fetcher.Value {
	if len(b) == 0 {
		return fetcher.Value{}
	}
	return fetcher.NewValue(b)
}

func (e *Engine) isOverlapEntry(env string) bool {
	for _, en := range e.entries {
		if en.cfg.Overlap > 0 && en.cfg.Env == env {
			return true
		}
	}
	return false
}

// readStateFile opens path without following a symlink or blocking on a FIFO and parses it
// only if it is a regular file of this user that nobody else can write.
func readStateFile(path string) (*stateFile, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, os.ErrNotExist
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, errors.New("it is a symlink")
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return nil, errors.New("not a regular file")
	case st != nil && int(st.Uid) != os.Geteuid():
		return nil, fmt.Errorf("owned by uid %d, not this process's %d", st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("mode %04o lets others in (want 0600)", fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, stateMaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > stateMaxSize {
		return nil, errors.New("too large")
	}
	var sf stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil || sf.Format != stateFormat {
		return nil, fmt.Errorf("not a %s file", stateFormat) // never the decoder's text: it may quote a value
	}
	return &sf, nil
}

// saveOverlapState writes the state file; a failure only costs a restart the open windows.
func (e *Engine) saveOverlapState(state map[string]overlapMemo) {
	path := e.statePath()
	sf := stateFile{Format: stateFormat, Entries: map[string]stateEntry{}}
	for name, m := range state {
		sf.Entries[name] = stateEntry{Current: m.Current.Reveal(), Previous: m.Previous.Reveal(), Since: m.Since}
	}
	b, err := json.Marshal(sf)
	if err == nil {
		if err = privateDir(filepath.Dir(path)); err == nil {
			_, err = sinks.WriteAtomic(path, b, sinks.FileOptions{Mode: 0o600, UID: -1, GID: -1})
		}
	}
	if err != nil {
		// The outputs are right; only a restart would forget an open window.
		e.log.Warn("cannot save the overlap state (set state_dir to a directory only the sidecar writes)", zap.String("path", path), zap.Error(err))
	}
}
