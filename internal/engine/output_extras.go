package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/sinks"
)

// maxBackupSize bounds what a backup copies: outputs are env files and configs, and a
// bigger file at an output's path was not written by us.
const maxBackupSize = 64 << 20

// SetOutputNotifier gives output i its own notifier: it is told when that output changes,
// and that output's changes no longer tell the global Notifier. Run runs it.
func (e *Engine) SetOutputNotifier(i int, n Notifier) {
	if e.outputNotifiers == nil {
		e.outputNotifiers = map[int]Notifier{}
	}
	e.outputNotifiers[i] = n
}

// outputChanged records that output i went live with new content: its own notifier is told
// at once, else the global one is due after the refresh.
func (e *Engine) outputChanged(i int) {
	if n, ok := e.outputNotifiers[i]; ok {
		n.Changed()
		return
	}
	e.globalDue = true
}

// runOutputNotifiers runs every output's own notifier until ctx ends.
func (e *Engine) runOutputNotifiers(ctx context.Context, wg *sync.WaitGroup) {
	for i, n := range e.outputNotifiers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				e.log.Error("output notifier stopped", zap.Int("output", i), zap.Error(err))
			}
		}()
	}
}

// backupBeforeCommit copies the live content of output i to PATH.bak (backup: true), with
// the output's mode and owner and the same atomic write as every output, before the new
// content replaces it. No live file (the first write) means no backup. The live file is
// opened without following a symlink; anything but a regular file is not copied (the
// directory is shared), and a failed copy stops the refresh before any output changes.
func (e *Engine) backupBeforeCommit(i int, path string) error {
	o := e.cfg.Outputs[i]
	if !o.Backup {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if os.IsNotExist(err) {
		return nil
	}
	if errors.Is(err, syscall.ELOOP) {
		e.log.Warn("backup skipped: the previous output is a symlink, not ours", zap.String("path", path))
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: reading the previous %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxBackupSize {
		// Not a generation of ours (planted, or replaced by hand): nothing worth keeping,
		// and copying it could carry someone else's file into PATH.bak.
		e.log.Warn("backup skipped: the previous output is not a regular file of ours", zap.String("path", path))
		return nil
	}
	prev, err := io.ReadAll(io.LimitReader(f, maxBackupSize+1))
	if err != nil {
		return fmt.Errorf("backup: reading the previous %s: %w", path, err)
	}
	if _, err := sinks.WriteAtomic(path+config.BackupSuffix, prev, outputOptions(o)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// outputOptions are the mode and owner of output o.
func outputOptions(o config.Output) sinks.FileOptions {
	opts := sinks.FileOptions{Mode: sinks.DefaultMode, UID: -1, GID: -1}
	if o.Mode != nil {
		opts.Mode = os.FileMode(*o.Mode)
	}
	if o.UID != nil {
		opts.UID = *o.UID
	}
	if o.GID != nil {
		opts.GID = *o.GID
	}
	return opts
}
