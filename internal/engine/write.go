package engine

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/sinks"
)

// RunOnce fetches everything, validates it and writes every output. It fails closed: on any
// problem it returns an error naming every failing entry, and no output is touched.
func (e *Engine) RunOnce(ctx context.Context) error {
	return e.refresh(ctx, ReasonStart)
}

// Prepare is a refresh minus the write: it resolves every variable and runs every output's
// checks (a value a format cannot carry, a name it refuses), so check --connect refuses
// exactly what once would. Nothing is written.
func (e *Engine) Prepare(ctx context.Context) (sinks.Snapshot, error) {
	snap, err := e.Resolve(ctx)
	if err != nil {
		return sinks.Snapshot{}, err
	}
	// Check every output before writing any, so a value one format refuses leaves every
	// output as it was.
	for _, s := range e.sinks {
		if err := s.Check(snap); err != nil {
			return sinks.Snapshot{}, fmt.Errorf("output %s: %w", s.Path(), err)
		}
	}
	return snap, nil
}

// refresh runs one pass and counts its outcome.
func (e *Engine) refresh(ctx context.Context, why Reason) error {
	err := e.refreshOnce(ctx, why)
	if e.Metrics != nil {
		result := "ok"
		if err != nil {
			result = "error"
		}
		e.Metrics.Refreshes.WithLabelValues(result, string(why)).Inc()
	}
	return err
}

// refreshOnce is one pass of trigger -> fetch -> resolve -> check -> write.
func (e *Engine) refreshOnce(ctx context.Context, why Reason) error {
	start := time.Now()
	snap, err := e.Prepare(ctx)
	if err != nil {
		return err
	}
	e.globalDue = false
	changed, err := e.writeAll(ctx, snap)
	if e.globalDue && e.Notifier != nil {
		// Told whenever an output changed, also when another one failed: the app must not
		// miss the outputs that did go live. An output with its own notify tells only
		// its own notifier (output_extras.go).
		e.Notifier.Changed()
	}
	if err != nil {
		return err
	}
	if e.pendingOverlap != nil && !sameOverlap(e.pendingOverlap, e.overlap) {
		e.saveOverlapState(e.pendingOverlap)
		e.overlap = e.pendingOverlap
	}
	now := time.Now()
	e.lastOK.Store(now.UnixNano())
	if e.Metrics != nil {
		e.Metrics.LastSuccess.Set(float64(now.Unix()))
	}
	e.log.Debug("refresh done", zap.String("reason", string(why)), zap.Int("outputs_changed", changed),
		zap.Int("variables", len(snap.Vars)), zap.Duration("took", time.Since(start)))
	return nil
}

func (e *Engine) countOutputError(path string) {
	if e.Metrics != nil {
		e.Metrics.OutputErrors.WithLabelValues(path).Inc()
	}
}
