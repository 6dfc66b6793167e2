package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/patas/patas-secrets/internal/config"

	"github.com/patas/patas-secrets/sinks"
)

// Outputs change as one generation, as far as POSIX allows (docs/hardening.md): every
// output's new content is written and synced beside it first; only when all of them are
// ready is each renamed over its output, one rename after the other, with nothing but
// renames in between. A failure while preparing leaves every output as it was. A rename
// that fails is retried (commitAttempts in all); outputs whose rename succeeded stay on the
// new generation, and the error names the ones that did not.
const (
	commitAttempts = 3
	commitRetry    = 100 * time.Millisecond
)

// writeAll writes snap to every output and returns how many changed.
func (e *Engine) writeAll(ctx context.Context, snap sinks.Snapshot) (int, error) {
	staged := make([]sinks.Staged, len(e.sinks))
	abortAll := func() {
		for _, st := range staged {
			if st != nil {
				st.Abort()
			}
		}
	}
	for i, s := range e.sinks {
		if err := e.makeParents(s.Path(), e.cfg.Outputs[i]); err != nil {
			abortAll()
			e.countOutputError(s.Path())
			return 0, fmt.Errorf("output %s: %w", s.Path(), err)
		}
		st, err := s.Stage(ctx, snap)
		if err != nil {
			abortAll()
			e.countOutputError(s.Path())
			return 0, fmt.Errorf("output %s (no output was changed): %w", s.Path(), err)
		}
		staged[i] = st
	}
	for i, st := range staged {
		if st == nil {
			continue
		}
		if err := e.backupBeforeCommit(i, e.sinks[i].Path()); err != nil {
			abortAll()
			e.countOutputError(e.sinks[i].Path())
			return 0, fmt.Errorf("output %s (no output was changed): %w", e.sinks[i].Path(), err)
		}
	}

	changed := 0
	errs := make([]error, len(e.sinks))
	pending := 0
	for attempt := 1; attempt <= commitAttempts; attempt++ {
		pending = 0
		for i, st := range staged {
			if st == nil {
				continue
			}
			live, err := st.Commit()
			errs[i] = err
			if !live {
				pending++
				continue
			}
			staged[i] = nil
			changed++
			e.outputChanged(i)
			e.wrote(e.sinks[i].Path(), len(snap.Vars))
		}
		if pending == 0 {
			break
		}
		if attempt < commitAttempts {
			t := time.NewTimer(commitRetry)
			select {
			case <-t.C:
			case <-ctx.Done():
				attempt = commitAttempts
			}
			t.Stop()
		}
	}
	abortAll() // what never went live
	var failed []error
	var live []string
	for i, err := range errs {
		if err != nil {
			e.countOutputError(e.sinks[i].Path())
			failed = append(failed, fmt.Errorf("output %s: %w", e.sinks[i].Path(), err))
		}
	}
	if len(failed) == 0 {
		return changed, nil
	}
	for i, err := range errs {
		if err == nil {
			live = append(live, e.sinks[i].Path())
		}
	}
	err := errors.Join(failed...)
	if pending > 0 && len(live) > 0 {
		err = fmt.Errorf("%w (after %d attempts; already on the new generation: %s)", err, commitAttempts, strings.Join(live, ", "))
	}
	return changed, err
}

func (e *Engine) wrote(path string, vars int) {
	if e.Metrics != nil {
		e.Metrics.OutputsWritten.WithLabelValues(path).Inc()
	}
	e.log.Info("output written", zap.String("path", path), zap.Int("variables", vars))
}

// makeParents creates the missing directories above an output, mode 0750 and the output's
// uid and gid (so an owner-only mode lets that owner through); an existing one is left as
// the operator made it.
func (e *Engine) makeParents(path string, o config.Output) error {
	var missing []string
	for d := filepath.Dir(filepath.Clean(path)); ; d = filepath.Dir(d) {
		_, err := os.Lstat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	uid, gid := -1, -1
	if o.UID != nil {
		uid = *o.UID
	}
	if o.GID != nil {
		gid = *o.GID
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if uid < 0 && gid < 0 {
			continue
		}
		// By descriptor, without following a symlink swapped in since.
		f, err := os.OpenFile(d, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = f.Chown(uid, gid)
		f.Close()
		if err != nil {
			return fmt.Errorf("setting owner of %s: %w", d, err)
		}
	}
	return nil
}
