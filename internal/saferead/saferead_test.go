package saferead

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFileRefusesNonRegular: a FIFO (which would block open forever), a socket, a device,
// a directory and a symlink to any of them are refused before they are opened; a regular
// file, directly or through a symlink (Kubernetes' layout), is read.
func TestFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reg := filepath.Join(dir, "reg")
	os.WriteFile(reg, []byte("v"), 0o600)
	os.Symlink(fifo, filepath.Join(dir, "to-fifo"))
	os.Symlink(reg, filepath.Join(dir, "to-reg"))
	for _, tc := range []struct{ path, want string }{
		{fifo, "a named pipe (FIFO)"},
		{filepath.Join(dir, "to-fifo"), "a named pipe (FIFO)"},
		{sock, "a socket"},
		{"/dev/zero", "a character device"},
		{dir, "a directory"},
	} {
		_, err := File(t.Context(), tc.path, 100)
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.path, err, tc.want)
		}
	}
	for _, p := range []string{reg, filepath.Join(dir, "to-reg")} {
		if b, err := File(t.Context(), p, 100); err != nil || string(b) != "v" {
			t.Errorf("%s: got %q, %v", p, b, err)
		}
	}
	if _, err := File(t.Context(), filepath.Join(dir, "none"), 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: got %v, want fs.ErrNotExist", err)
	}
	os.WriteFile(reg, []byte("too long"), 0o600)
	if _, err := File(t.Context(), reg, 3); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large: got %v, want ErrTooLarge", err)
	}
}

// TestFileHonoursDeadline: a read stuck in the kernel (stood in for by one that blocks
// until released) does not hold the caller past its deadline; the abandoned read ends
// when the kernel lets go.
func TestFileHonoursDeadline(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	ended := make(chan struct{})
	readFn = func(string, int64) ([]byte, error) {
		defer close(ended)
		close(entered)
		<-release
		return nil, errors.New("released")
	}
	defer func() { readFn = read }()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := File(ctx, "/hung/mount/secret", 10)
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "/hung/mount/secret") {
		t.Errorf("got %v, want context.Canceled naming the path", err)
	}
	close(release)
	<-ended
}
