// Package engine is the refresh loop: trigger -> fetch -> resolve -> check -> write. It owns
// all state; only the goroutine running RunOnce or Run touches it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/telemetry"
	"github.com/patas/patas-secrets/internal/tmpl"
	"github.com/patas/patas-secrets/sinks"
)

// Engine fetches the configured secrets and keeps the outputs up to date.
type Engine struct {
	cfg      *config.Config
	backends map[string]fetcher.Backend
	sinks    []sinks.Sink
	entries  []entry
	sources  map[string][]fetcher.Ref // backend name -> distinct sources, in first-use order
	// templates are the format: template outputs, rendered in each Resolve.
	templates []templateOutput
	log       *zap.Logger

	// FetchTimeout bounds one backend read (or one batch).
	FetchTimeout time.Duration
	// Concurrency bounds the reads in flight per refresh.
	Concurrency int
	// Notifier, when set, is told after a refresh has written every output and at least
	// one changed. Run runs it beside the refresh loop.
	Notifier Notifier

	// outputNotifiers are the outputs' own notifiers, by output index; globalDue says an
	// output without one changed in this refresh (output_extras.go).
	outputNotifiers map[int]Notifier
	globalDue       bool

	// Metrics, when set, count reads, refreshes and writes.
	Metrics *telemetry.Metrics

	started time.Time
	minTTL  time.Duration // smallest lease TTL seen in the last refresh; 0 when none
	// minRotate is the soonest backend-side rotation (Secret.RotatesIn) seen in the last refresh; 0 when none
	minRotate time.Duration
	// lastFindings is the last set of hygiene findings logged, so each is logged on change.
	lastFindings string
	// overlap is the committed state of overlap entries (see overlap.go); pendingOverlap is
	// what the last Resolve computed, committed once every output is written.
	overlap, pendingOverlap map[string]overlapMemo
	// overlapEnds is when the earliest open overlap window closes (zero when none).
	overlapEnds time.Time
	// lastOK is the Unix nanosecond time of the last refresh that wrote every output (0
	// before the first). Atomic: the health server reads it from its own goroutine.
	lastOK atomic.Int64
	// adopted is the Unix nanosecond time of the outputs a previous run left, found at
	// start (0 when none): the last good generation until this run writes its own.
	adopted atomic.Int64
}

// Notifier tells the application that its secrets changed (signal, command, HTTP).
type Notifier interface {
	// Changed must not block: it records that a notification is due.
	Changed()
	// Run delivers notifications (debounced, retried) until ctx is cancelled.
	Run(ctx context.Context) error
}

// entry is a compiled secrets entry.
type entry struct {
	index int
	cfg   config.Secret
	ref   fetcher.Ref    // for ref entries
	tmpl  *tmpl.Template // for template entries
}

func (e entry) name() string { return fmt.Sprintf("secrets[%d] (%s)", e.index, e.cfg.Name()) }

// New compiles cfg, which must have passed validation, against the opened backends.
func New(cfg *config.Config, backends map[string]fetcher.Backend, log *zap.Logger) (*Engine, error) {
	e := &Engine{
		cfg:          cfg,
		backends:     backends,
		sources:      map[string][]fetcher.Ref{},
		log:          log,
		FetchTimeout: cfg.Refresh.ReadTimeoutOrDefault(),
		started:      time.Now(),
		Concurrency:  cfg.Refresh.ConcurrencyOrDefault(),
	}
	seen := map[string]bool{}
	addSource := func(r fetcher.Ref) error {
		if _, ok := backends[r.Backend]; !ok {
			return fmt.Errorf("unknown backend %q", r.Backend)
		}
		src := r.Source()
		if !seen[src.String()] {
			seen[src.String()] = true
			e.sources[src.Backend] = append(e.sources[src.Backend], src)
		}
		return nil
	}
	for i, s := range cfg.Secrets {
		en := entry{index: i, cfg: s}
		if s.Template != "" {
			t, err := tmpl.Parse(s.Env, s.Template)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", en.name(), err)
			}
			en.tmpl = t
			if refs := t.UnencodedUserinfo(); len(refs) > 0 {
				log.Warn("a template puts a secret into a URL's user info without urlencode: a value holding @, / or : would change the host; pipe it through urlencode",
					zap.String("entry", en.name()), zap.Strings("refs", refs))
			}
			for _, r := range t.Refs() {
				if err := addSource(r); err != nil {
					return nil, fmt.Errorf("%s: %w", en.name(), err)
				}
			}
		} else {
			r, err := fetcher.ParseRef(s.Ref)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", en.name(), err)
			}
			en.ref = r
			if err := addSource(r); err != nil {
				return nil, fmt.Errorf("%s: %w", en.name(), err)
			}
		}
		e.entries = append(e.entries, en)
	}
	if len(cfg.Outputs) == 0 {
		return nil, errors.New("no outputs")
	}
	for i, o := range cfg.Outputs {
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
		s, err := sinks.New(o.Format, cfg.Abs(o.Path), opts)
		if err != nil {
			return nil, fmt.Errorf("outputs[%d]: %w", i, err)
		}
		if r, ok := s.(*sinks.Rendered); ok {
			if err := e.addTemplateOutput(i, r, addSource); err != nil {
				return nil, err
			}
		}
		e.sinks = append(e.sinks, s)
	}
	return e, nil
}

// Sources returns every distinct read of a refresh, by backend; for check --connect and tests.
func (e *Engine) Sources() map[string][]fetcher.Ref { return e.sources }
