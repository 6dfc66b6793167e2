// Package saferead reads files that someone else may have put there (a secret volume, a
// shared tmpfs): only regular files, never more than a limit, and never longer than the
// caller's deadline. A named pipe at a secret's path would otherwise block open() forever,
// a device would stream without end, and a read on a hung network or FUSE filesystem would
// hold the refresh (and shutdown) hostage.
package saferead

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotRegular marks a path that is a FIFO, socket, device or directory.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge marks a file larger than the limit.
var ErrTooLarge = errors.New("file too large")

// File reads the regular file at path, of at most limit bytes. Symlinks are followed (a
// Kubernetes secret volume is made of them), but what they lead to must be a regular file:
// checked with stat before opening (so a FIFO or a device is never opened), then opened
// with O_NONBLOCK (so one swapped in meanwhile cannot block the open) and checked again on
// the descriptor. Errors wrap fs.ErrNotExist and fs.ErrPermission as os does.
//
// The read runs on its own goroutine and File returns when ctx ends, whatever the kernel
// does: a read stuck in the kernel (a hung NFS or FUSE mount) is abandoned, and its
// goroutine ends when the kernel returns. That is the one goroutine this package lets
// outlive a call, and only while the kernel holds it.
func File(ctx context.Context, path string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned read never blocks on send
	go func() {
		b, err := readFn(path, limit)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("reading %s: %w", path, ctx.Err())
	}
}

// readFn is read; a test replaces it with a read that blocks as a hung mount does.
var readFn = read

func read(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", path, limit, ErrTooLarge)
	}
	return data, nil
}

func regular(path string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is %s: %w", path, kind(fi.Mode()), ErrNotRegular)
}

// kind names a file type for an error.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "not a regular file"
	}
}
