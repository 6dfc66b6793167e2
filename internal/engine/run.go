package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/backoff"
)

// Reason says why a refresh runs.
type Reason string

// Reasons a refresh runs.
const (
	ReasonStart    Reason = "start"
	ReasonInterval Reason = "interval"
	ReasonWatch    Reason = "watch"
	ReasonSignal   Reason = "signal"
	ReasonLease    Reason = "lease"
	ReasonRetry    Reason = "retry"
	ReasonOverlap  Reason = "overlap_end"
	ReasonRotation Reason = "rotation"
)

// Run refreshes now and then whenever a trigger fires: the interval (with jitter), a change
// reported by a watching backend, a lease nearing its end, or a reason sent on external
// (SIGHUP). Triggers land in one channel of size one, so a burst becomes one refresh. A
// failed refresh keeps the last good outputs and is retried with backoff (retry.go). Run
// returns nil when ctx is cancelled, after its watchers have stopped, and an error wrapping
// ErrRetriesExhausted when on_failure: exit gives up.
func (e *Engine) Run(ctx context.Context, external <-chan Reason) error {
	triggers := make(chan Reason, 1)
	fire := func(r Reason) {
		select {
		case triggers <- r:
		default: // a refresh is already pending
		}
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if e.Notifier != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Notifier.Run(ctx); err != nil {
				e.log.Error("notifier stopped", zap.Error(err))
			}
		}()
	}
	e.runOutputNotifiers(ctx, &wg)
	if e.cfg.Refresh.WatchEnabled() {
		e.startWatches(ctx, &wg, func() { fire(ReasonWatch) })
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case r, ok := <-external:
				if !ok {
					external = nil
					continue
				}
				fire(r)
			}
		}
	}()

	e.adoptOutputs()
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	why := ReasonStart
	for {
		select {
		case <-ctx.Done():
			return nil
		case why = <-triggers:
		case <-timer.C:
		}
		err := e.refresh(ctx, why)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		if err != nil {
			failures++
			if e.giveUp(failures) {
				return fmt.Errorf("%w: %d consecutive refreshes failed (refresh.on_failure: exit); last: %w", ErrRetriesExhausted, failures, err)
			}
			wait = e.backoff(failures)
			e.log.Error("refresh failed; keeping the last good outputs", zap.String("reason", string(why)),
				zap.Int("consecutive_failures", failures), zap.Duration("retry_in", wait), zap.Error(err))
			if stale := e.Staleness(); stale > e.maxStaleness() {
				e.log.Warn("outputs are stale", zap.Duration("since_last_success", stale.Round(time.Second)))
			}
			why = ReasonRetry
		} else {
			failures = 0
			wait, why = e.nextWait()
		}
		timer.Reset(wait) // Go 1.23+: Reset discards a stale expiry; no drain needed
	}
}

// startWatches runs the Watch of every backend that has one, over that backend's sources.
func (e *Engine) startWatches(ctx context.Context, wg *sync.WaitGroup, changed func()) {
	for name, refs := range e.sources {
		w, ok := e.backends[name].(fetcher.Watcher)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Watch(ctx, refs, changed); err != nil {
				e.log.Warn("watch stopped; interval refreshes continue", zap.String("backend", name), zap.Error(err))
			}
		}()
	}
}

// rotationMargin is how long after a backend's announced rotation the engine reads again:
// Vault rotates static roles from a queue it checks every few seconds, so a read exactly at
// the announced time may still get the old value (and then a ttl of 0, read again in 1 s).
const rotationMargin = time.Second

// nextWait is the interval with jitter, or sooner: about two thirds into the shortest
// lease, just after the soonest backend rotation (a read before it only returns the same
// value), or just after an overlap window closes (so old items leave on time).
func (e *Engine) nextWait() (time.Duration, Reason) {
	wait, why := backoff.Jitter(e.interval(), e.cfg.Refresh.JitterFraction()), ReasonInterval
	if e.minTTL > 0 {
		if lease := max(backoff.Jitter(e.minTTL*2/3, 0.1), 100*time.Millisecond); lease < wait {
			wait, why = lease, ReasonLease
		}
	}
	if e.minRotate > 0 {
		// Jitter upwards only: never before the rotation.
		if rot := e.minRotate + rotationMargin + time.Duration(rand.Int64N(int64(rotationMargin/2))); rot < wait {
			wait, why = rot, ReasonRotation
		}
	}
	if !e.overlapEnds.IsZero() {
		if end := max(time.Until(e.overlapEnds)+10*time.Millisecond, 10*time.Millisecond); end < wait {
			wait, why = end, ReasonOverlap
		}
	}
	return wait, why
}

func (e *Engine) interval() time.Duration     { return time.Duration(e.cfg.Refresh.Interval) }
func (e *Engine) maxStaleness() time.Duration { return time.Duration(e.cfg.Refresh.MaxStaleness) }
