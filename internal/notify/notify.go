// Package notify tells the application that its secrets changed: a signal to a process
// (by pidfile, or by name in a shared process namespace), a command, or an HTTP request.
// Notifications are debounced, spread across replicas with jitter, and a failed target
// is retried with bounded backoff; counters of sent and failed notifications are kept.
package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/backoff"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
)

// target is one way of telling the application.
type target interface {
	notify(ctx context.Context) error
	String() string // for logs; never a secret (the config holds none)
}

// Manager debounces change reports and delivers them to every target.
type Manager struct {
	targets  []target
	debounce time.Duration
	jitter   time.Duration
	retries  int
	// Backoff between retries of a failed target: doubling from minBackoff to maxBackoff,
	// each with ±20% jitter.
	minBackoff, maxBackoff time.Duration
	log                    *zap.Logger

	changed chan struct{} // size one: a burst of changes is one pending notification

	// OnResult, when set (before Run), is called after each attempt on a target, for
	// metrics such as patas_secrets_notifications_total{result="ok"|"error"}.
	OnResult func(ok bool)

	sent, failed, gaveUp atomic.Uint64
}

var _ engine.Notifier = (*Manager)(nil)

// Stats are counters since start, for metrics.
type Stats struct {
	Sent   uint64 // deliveries that succeeded (one per target)
	Failed uint64 // attempts that failed, retries included
	GaveUp uint64 // deliveries abandoned after every retry failed
}

// New builds the notifier of the notify: section. dir resolves a relative pidfile (the
// config file's directory). Command output goes to this process's stderr.
func New(n config.NotifyConfig, dir string, log *zap.Logger) (*Manager, error) {
	if p := n.Validate("notify"); len(p) > 0 {
		return nil, p
	}
	m := &Manager{
		debounce:   n.DebounceOrDefault(),
		jitter:     n.JitterOrDefault(),
		retries:    n.RetriesOrDefault(),
		minBackoff: time.Second,
		maxBackoff: 30 * time.Second,
		log:        log,
		changed:    make(chan struct{}, 1),
	}
	if s := n.Signal; s != nil {
		sig, err := signalOf(s.Signal)
		if err != nil {
			return nil, err
		}
		if s.Pidfile != "" {
			p := s.Pidfile
			if !filepath.IsAbs(p) && dir != "" {
				p = filepath.Join(dir, p)
			}
			m.targets = append(m.targets, &pidfileTarget{path: p, sig: sig})
		} else {
			m.targets = append(m.targets, &processTarget{name: s.Process, sig: sig, proc: "/proc"})
		}
	}
	if c := n.Command; c != nil {
		timeout := time.Duration(c.Timeout)
		if timeout == 0 {
			timeout = config.DefaultNotifyCommandTimeout
		}
		m.targets = append(m.targets, &commandTarget{args: c.Args, env: c.Env, timeout: timeout, out: os.Stderr})
	}
	if h := n.HTTP; h != nil {
		t, err := newHTTPTarget(h)
		if err != nil {
			return nil, err
		}
		m.targets = append(m.targets, t)
	}
	return m, nil
}

// Changed records that the outputs changed; it never blocks.
func (m *Manager) Changed() {
	select {
	case m.changed <- struct{}{}:
	default: // a notification is already due
	}
}

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	return Stats{Sent: m.sent.Load(), Failed: m.failed.Load(), GaveUp: m.gaveUp.Load()}
}

// Run delivers notifications until ctx is cancelled; it always returns nil.
func (m *Manager) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.changed:
		}
		// Wait out the burst, plus a random share of jitter so that replicas, which see
		// the same rotation at about the same time, do not all reload at once.
		wait := m.debounce
		if m.jitter > 0 {
			wait += rand.N(m.jitter)
		}
		if backoff.Wait(ctx, wait) != nil {
			return nil
		}
		select { // changes during the wait are covered by this notification
		case <-m.changed:
		default:
		}
		m.deliver(ctx)
	}
}

// deliver notifies every target, retrying those that fail. A new change during a backoff
// ends this round: the next one notifies every target again.
func (m *Manager) deliver(ctx context.Context) {
	pending := m.targets
	for attempt := 1; ; attempt++ {
		var failed []target
		for _, t := range pending {
			err := t.notify(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				m.failed.Add(1)
				m.report(false)
				m.log.Warn("notification failed", zap.Stringer("target", t), zap.Int("attempt", attempt), zap.Error(err))
				failed = append(failed, t)
				continue
			}
			m.sent.Add(1)
			m.report(true)
			m.log.Info("application notified", zap.Stringer("target", t))
		}
		if len(failed) == 0 {
			return
		}
		if attempt > m.retries {
			m.gaveUp.Add(uint64(len(failed)))
			for _, t := range failed {
				m.log.Error("notification abandoned; the application may run on old secrets until the next change",
					zap.Stringer("target", t), zap.Int("attempts", attempt))
			}
			return
		}
		d := backoff.Policy{Base: m.minBackoff, Max: m.maxBackoff, Spread: 0.2}.Delay(attempt - 1)
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-m.changed:
			timer.Stop()
			m.Changed() // hand the new change to Run
			return
		case <-timer.C:
		}
		pending = failed
	}
}

func (m *Manager) report(ok bool) {
	if m.OnResult != nil {
		m.OnResult(ok)
	}
}

func signalOf(name string) (syscall.Signal, error) {
	if name == "" {
		return syscall.SIGHUP, nil
	}
	s, err := config.ParseSignal(name)
	if err != nil {
		return 0, fmt.Errorf("notify.signal.signal: %w", err)
	}
	return s, nil
}
