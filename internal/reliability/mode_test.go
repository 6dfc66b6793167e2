package reliability

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// createWatch reports every file and directory created (or renamed in) under dir and its
// new subdirectories, with its mode stat'ed the moment the event is read.
type createWatch struct {
	fd      int
	f       *os.File // fd in the runtime's poller, so that Close wakes a blocked Read
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	dirs    map[int]string // watch descriptor -> directory
	checked int
	wider   []string
}

// TestModeFromTheStart runs the real binary with umask 0 (so nothing narrows a mode by
// accident) and output mode 0400 while the secret changes every few milliseconds. Every
// file or directory that appears in the output directory, temporary and generation ones
// included, is stat'ed as soon as inotify reports it: no file is ever more open than 0400,
// no directory more than 0700 (the files format's directories for 0400 files).
func TestModeFromTheStart(t *testing.T) {
	t.Parallel()
	bin := patasBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	must(t, os.MkdirAll(filepath.Join(out, "files"), 0o700))
	cfg := filepath.Join(dir, "patas.yaml")
	must(t, os.WriteFile(cfg, []byte(`
environment: test
backends:
  src: {type: file, dir: secrets}
secrets:
  - {env: API_KEY, ref: "src:api_key"}
outputs:
  - {format: dotenv, path: out/secrets.env, mode: "0400"}
  - {format: json, path: out/secrets.json, mode: "0400"}
  - {format: files, path: out/files, mode: "0400"}
refresh: {interval: 1s, watch: true}
listen: "off"
`), 0o600))
	w := watchCreates(t, out, filepath.Join(out, "files"))
	src := startSource(t, filepath.Join(dir, "secrets"), 1000, 5*time.Millisecond)

	cmd := exec.Command("/bin/sh", "-c", `umask 0; exec "$0" run --config "$1"`, bin, cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(t, cmd.Start())
	time.Sleep(3 * time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	src.halt()
	w.close()

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.wider {
		t.Errorf("created with a wider mode than configured: %s", s)
	}
	t.Logf("%d created files and directories stat'ed", w.checked)
	if w.checked < 20 {
		t.Errorf("only %d creations seen; the sidecar wrote too little for the test to mean anything\n%s", w.checked, logs.String())
	}
}

func watchCreates(t *testing.T, dirs ...string) *createWatch {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	w := &createWatch{fd: fd, f: os.NewFile(uintptr(fd), "inotify"), dirs: map[int]string{}, done: make(chan struct{})}
	for _, d := range dirs {
		w.add(d)
	}
	go func() {
		defer close(w.done)
		w.read()
	}()
	t.Cleanup(w.close)
	return w
}

func (w *createWatch) close() {
	w.once.Do(func() {
		w.f.Close()
		<-w.done
	})
}

func (w *createWatch) add(dir string) {
	wd, err := unix.InotifyAddWatch(w.fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
	if err != nil {
		return // gone already
	}
	w.mu.Lock()
	w.dirs[wd] = dir
	w.mu.Unlock()
}

func (w *createWatch) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+nameLen], "\x00"))
			off += unix.SizeofInotifyEvent + nameLen
			w.mu.Lock()
			dir := w.dirs[int(wd)]
			w.mu.Unlock()
			if dir == "" || name == "" {
				continue
			}
			w.check(filepath.Join(dir, name))
		}
	}
}

// check stats p; a new directory is watched too, and what it already holds is checked.
func (w *createWatch) check(p string) {
	fi, err := os.Lstat(p)
	if err != nil {
		return // renamed or removed already
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checked++
	switch {
	case fi.Mode().IsRegular() && fi.Mode().Perm()&^0o400 != 0:
		w.wider = append(w.wider, p+" "+fi.Mode().String())
	case fi.IsDir() && fi.Mode().Perm()&^0o700 != 0:
		w.wider = append(w.wider, p+" "+fi.Mode().String())
	}
	if fi.IsDir() {
		w.mu.Unlock()
		w.add(p)
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			w.check(filepath.Join(p, e.Name()))
		}
		w.mu.Lock()
	}
}
