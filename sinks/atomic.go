package sinks

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// WriteAtomic replaces path with data so that a reader sees either the old or the new
// content, never a mix, a partial or an empty file. It creates a temporary file in the
// same directory (no cross-device rename) with O_EXCL|O_NOFOLLOW and the final mode and
// owner set on the descriptor before any byte is written, fsyncs it, renames it over path
// (rename replaces a planted symlink or hard link instead of writing through it) and fsyncs
// the directory. It returns changed=false, writing nothing, when path already is a regular
// file with the same content, mode and owner.
func WriteAtomic(path string, data []byte, o FileOptions) (changed bool, err error) {
	st, err := stageAtomic(path, data, o)
	if err != nil || st == nil {
		return false, err
	}
	live, err := st.Commit()
	if !live {
		st.Abort()
	}
	return live, err
}

// atomicStage is a temporary file holding an output's complete new content, synced and
// closed, waiting to be renamed over the output.
type atomicStage struct {
	tmp, path string
	live      bool
}

// stageAtomic does every step of WriteAtomic but the rename; nil when path is current.
func stageAtomic(path string, data []byte, o FileOptions) (st *atomicStage, err error) {
	if same(path, data, o) {
		return nil, nil
	}
	dir := filepath.Dir(path)
	tmp, f, err := createTemp(dir, filepath.Base(path), o.Mode)
	if err != nil {
		return nil, err
	}
	if hookCreated != nil {
		hookCreated(tmp)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// The mode given to open is filtered by the umask; set it exactly, before writing.
	if err = f.Chmod(o.Mode); err != nil {
		return nil, fmt.Errorf("setting mode of %s: %w", tmp, err)
	}
	if o.UID >= 0 || o.GID >= 0 {
		if err = f.Chown(o.UID, o.GID); err != nil {
			return nil, fmt.Errorf("setting owner of %s: %w", tmp, err)
		}
	}
	if _, err = writeData(f, data); err != nil {
		return nil, fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return nil, fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return nil, fmt.Errorf("closing %s: %w", tmp, err)
	}
	return &atomicStage{tmp: tmp, path: path}, nil
}

// Commit renames the temporary file over the output and fsyncs the directory. After a
// failed rename the temporary file stays, so Commit can be called again.
func (st *atomicStage) Commit() (live bool, err error) {
	if !st.live {
		if err := renameFile(st.tmp, st.path); err != nil {
			return false, fmt.Errorf("replacing %s (a single bind-mounted file cannot be replaced; mount its directory): %w", st.path, err)
		}
		st.live = true
	}
	return true, syncDir(filepath.Dir(st.path))
}

// Abort removes the temporary file of a stage that did not go live.
func (st *atomicStage) Abort() {
	if !st.live {
		_ = os.Remove(st.tmp)
	}
}

// Test seams, set only by tests: hookCreated sees each temporary file the moment it exists
// (to check that no moment has a wider mode than the final one); writeData lets a test fail
// a write midway (to check that the previous output survives byte for byte).
var (
	hookCreated func(path string)
	writeData   = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	renameFile  = os.Rename
)

// tempPrefix marks our temporary files, so a crashed write's leftovers can be recognised.
const tempPrefix = ".patas-secrets-"

func createTemp(dir, base string, mode os.FileMode) (string, *os.File, error) {
	for range 5 {
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", nil, err
		}
		name := filepath.Join(dir, tempPrefix+base+"."+hex.EncodeToString(r[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, mode&0o600)
		if os.IsExist(err) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("creating temporary file in %s: %w", dir, err)
		}
		return name, f, nil
	}
	return "", nil, fmt.Errorf("creating temporary file in %s: too many name collisions", dir)
}

// same reports whether path is a regular file (not a symlink) that already holds data with
// the wanted mode and owner. It never follows a symlink.
func same(path string, data []byte, o FileOptions) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return sameFile(f, data, o)
}

// sameFile reports whether the open file f is a regular file with one link that holds
// data with the wanted mode and owner.
func sameFile(f *os.File, data []byte, o FileOptions) bool {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != o.Mode.Perm() || fi.Size() != int64(len(data)) {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if (o.UID >= 0 && int(st.Uid) != o.UID) || (o.GID >= 0 && int(st.Gid) != o.GID) || st.Nlink != 1 {
			return false
		}
	}
	got, err := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
	return err == nil && bytes.Equal(got, data)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s to sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
