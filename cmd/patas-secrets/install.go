package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// runInstall copies this binary into DIR (an emptyDir or task volume shared with the app's
// container), so the app's container can use it as its entrypoint wrapper
// (DIR/patas-secrets exec …) without a change to the app's image.
func runInstall(ctx context.Context, env *cmdEnv) error {
	if len(env.args) != 1 {
		return usageError{errors.New("install takes one argument: the directory to copy the binary into")}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary: %w", err)
	}
	dst, err := installBinary(self, env.args[0])
	if err != nil {
		return err
	}
	env.log.Info("installed", zap.String("path", dst))
	return nil
}

// installBinary copies src to dir/patas-secrets atomically: a temporary file in dir, mode
// 0755, fsync, rename, fsync of dir. A reader never sees a partial binary (and a running
// copy keeps its inode: no "text file busy").
func installBinary(src, dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("install directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("install directory %s is not a directory", dir)
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("reading this binary: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".patas-secrets-*")
	if err != nil {
		return "", fmt.Errorf("installing into %s: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o755); err != nil {
		return "", fmt.Errorf("installing into %s: %w", dir, err)
	}
	if _, err := io.Copy(tmp, in); err != nil {
		return "", fmt.Errorf("installing into %s: %w", dir, err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("installing into %s: %w", dir, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("installing into %s: %w", dir, err)
	}
	dst := filepath.Join(dir, "patas-secrets")
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("installing into %s: %w", dir, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return dst, nil
}
