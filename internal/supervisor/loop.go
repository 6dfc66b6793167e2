package supervisor

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/config"
)

// supervise starts the command and reacts to its exit, to signals and to file changes
// until it exits for good.
func (s *sup) supervise(ctx context.Context, env *envState) (int, error) {
	if err := s.start(env); err != nil {
		return 127, err
	}
	settle := newTimer()
	act := newTimer()
	grace := newTimer()
	defer settle.Stop()
	defer act.Stop()
	defer grace.Stop()
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	done := ctx.Done()
	// fsnotify closes these if its reader fails; a nil channel then keeps select from
	// spinning on them, and the poll carries on.
	events, errs := s.watch.Events, s.watch.Errors
	signals := s.cfg.Signals

	stopChild := func() {
		if err := s.child.signal(syscall.SIGTERM); err != nil {
			s.log.Warn("cannot signal the command", zap.Int("pid", s.child.pid), zap.Error(err))
		}
		grace.Reset(s.cfg.Grace)
	}

	for {
		select {
		case <-done:
			done = nil
			s.log.Info("stopping the command", zap.Int("pid", s.child.pid), zap.Duration("grace", s.cfg.Grace))
			s.stopping = true
			act.Stop()
			stopChild()

		case sig, ok := <-signals:
			if !ok {
				signals = nil
				continue
			}
			s.forward(sig)
			if terminating(sig) {
				s.stopping = true
				act.Stop()
			}

		case <-s.chld:
		case <-poll.C:
			s.addWatch() // a directory that appeared since is now watched
			s.check(act)

		case ev, ok := <-events:
			if !ok {
				events = nil
			} else if ev.Op != fsnotify.Chmod && !settle.armed {
				// Fixed, not sliding: a file that changes without pause is still compared.
				settle.Reset(s.cfg.Debounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
			} else {
				s.log.Warn("file watch error; the poll backstop continues", zap.Error(err))
			}
		case <-settle.C():
			settle.armed = false
			s.check(act)

		case <-act.C():
			act.armed = false
			if s.act() {
				stopChild()
			}

		case <-grace.C():
			grace.armed = false
			s.log.Warn("the command outlived its grace period; killing it", zap.Int("pid", s.child.pid), zap.Duration("grace", s.cfg.Grace))
			s.child.kill()
		}

		// Collect exits on every wake-up: SIGCHLD can coalesce, and this costs one syscall.
		exited, ws, orphans := reap(s.child.pid, s.cfg.Reap)
		if orphans > 0 {
			s.log.Debug("reaped orphaned processes", zap.Int("count", orphans))
		}
		if !exited {
			continue
		}
		grace.Stop()
		code := exitCode(ws)
		if !s.restarting || s.stopping {
			s.log.Info("command exited", zap.Int("pid", s.child.pid), zap.Int("status", code))
			return code, nil
		}
		// A restart: clear what is left of the old process group, then start anew.
		s.child.kill()
		s.restarting = false
		next := s.pending
		s.pending = nil
		if err := s.start(next); err != nil {
			return 127, err
		}
	}
}

// check compares the file with what the command has (or is about to get) and schedules
// an action when it changed.
func (s *sup) check(act *timer) {
	if s.stopping {
		return
	}
	env, err := readEnv(s.path, s.cfg.AllowEnv)
	if err != nil {
		s.log.Warn("cannot read the env file; the command keeps its current variables", zap.Error(err))
		return
	}
	want := s.current
	if s.pending != nil {
		want = s.pending
	}
	if env.hash == want.hash {
		s.log.Debug("env file compared: unchanged") // tests wait on this line
		return
	}
	if !s.restarting && env.hash == s.current.hash {
		// Changed back before we acted: nothing to do.
		s.pending = nil
		act.Stop()
		s.log.Info("env file is back to what the command has; no action")
		return
	}
	s.log.Info("env file changed", zap.Strings("variables", changedNames(s.current, env)))
	s.pending = env
	if s.restarting {
		return // the new command will get this content
	}
	now := time.Now()
	at := s.lim.next(now)
	if wait := at.Sub(now); wait > 0 {
		s.log.Info("action delayed by the restart limit", zap.Duration("in", wait.Round(time.Millisecond)),
			zap.Int("max_restarts", s.cfg.MaxRestarts), zap.Duration("window", s.cfg.RestartWindow))
	}
	if !act.armed {
		act.Reset(at.Sub(now))
	}
}

// act applies the pending change; it returns true when the command must be stopped so
// that it restarts.
func (s *sup) act() bool {
	if s.stopping || s.pending == nil || s.restarting {
		return false
	}
	s.lim.record(time.Now())
	if s.cfg.Signal != 0 {
		s.log.Info("signalling the command", zap.Int("pid", s.child.pid), zap.String("signal", config.SignalName(s.cfg.Signal)))
		if err := s.child.signal(s.cfg.Signal); err != nil {
			s.log.Warn("cannot signal the command", zap.Int("pid", s.child.pid), zap.Error(err))
		}
		s.current, s.pending = s.pending, nil
		return false
	}
	s.log.Info("restarting the command", zap.Int("pid", s.child.pid), zap.Duration("grace", s.cfg.Grace))
	s.restarting = true
	return true
}

// forward passes sig to the command. On a terminal the command shares our process group
// and already got the keyboard's SIGINT and SIGQUIT, so those are not sent twice.
func (s *sup) forward(sig os.Signal) {
	ss, ok := sig.(syscall.Signal)
	if !ok || ss == syscall.SIGCHLD {
		return
	}
	if !s.child.ownGroup && (ss == syscall.SIGINT || ss == syscall.SIGQUIT) {
		return
	}
	s.log.Debug("forwarding signal", zap.String("signal", config.SignalName(ss)), zap.Int("pid", s.child.pid))
	if err := s.child.signal(ss); err != nil {
		s.log.Warn("cannot forward signal", zap.String("signal", config.SignalName(ss)), zap.Error(err))
	}
}

// timer is a time.Timer that knows whether it is armed; its channel is nil when not, so
// a select ignores it.
type timer struct {
	t     *time.Timer
	armed bool
}

func newTimer() *timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timer{t: t}
}

func (t *timer) Reset(d time.Duration) { t.t.Reset(d); t.armed = true }
func (t *timer) Stop()                 { t.t.Stop(); t.armed = false }
func (t *timer) C() <-chan time.Time {
	if !t.armed {
		return nil
	}
	return t.t.C
}
