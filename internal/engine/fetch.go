package engine

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/telemetry"
)

// fetchAll reads every distinct source once, concurrently within the limit, and returns
// the results by source (ref.String() of a key-less ref). It never stops early: every
// failure is reported against the entries that needed it.
func (e *Engine) fetchAll(ctx context.Context) map[string]fetcher.Result {
	results := make(map[string]fetcher.Result)
	var mu sync.Mutex
	record := func(r fetcher.Ref, res fetcher.Result) {
		e.audit(r, res)
		e.observe(r, res)
		mu.Lock()
		results[r.String()] = res
		mu.Unlock()
	}
	var g errgroup.Group
	g.SetLimit(max(e.Concurrency, 1))
	for name, refs := range e.sources {
		b := e.backends[name]
		if batcher, ok := b.(fetcher.Batcher); ok {
			g.Go(func() error {
				ctx, cancel := context.WithTimeout(ctx, e.FetchTimeout)
				defer cancel()
				start := time.Now()
				rs := batcher.FetchAll(ctx, refs)
				e.observeDuration(name, time.Since(start))
				for i, r := range refs {
					res := fetcher.Result{Err: errMissingResult}
					if i < len(rs) {
						res = rs[i]
					}
					record(r, res)
				}
				return nil
			})
			continue
		}
		for _, r := range refs {
			g.Go(func() error {
				ctx, cancel := context.WithTimeout(ctx, e.FetchTimeout)
				defer cancel()
				start := time.Now()
				s, err := b.Fetch(ctx, r)
				e.observeDuration(name, time.Since(start))
				record(r, fetcher.Result{Secret: s, Err: err})
				return nil
			})
		}
	}
	_ = g.Wait()
	return results
}

// audit logs one secret read as its own event: which ref, which version, what result;
// never the value. Operators ship the "audit" logger to their audit store.
func (e *Engine) audit(ref fetcher.Ref, r fetcher.Result) {
	fields := []zap.Field{zap.String("backend", ref.Backend), zap.String("ref", ref.String()), zap.String("result", telemetry.Classify(r.Err))}
	if r.Err != nil {
		fields = append(fields, zap.Error(r.Err))
	} else {
		fields = append(fields, zap.String("version", r.Secret.Version))
		if !r.Secret.Created.IsZero() {
			fields = append(fields, zap.Time("created", r.Secret.Created.Round(time.Second)))
		}
		if r.Secret.TTL > 0 {
			fields = append(fields, zap.Duration("ttl", r.Secret.TTL))
		}
		if r.Secret.RotatesIn > 0 {
			fields = append(fields, zap.Duration("rotates_in", r.Secret.RotatesIn))
		}
	}
	e.log.Named("audit").Info("secret read", fields...)
}

func (e *Engine) observe(ref fetcher.Ref, r fetcher.Result) {
	if e.Metrics == nil {
		return
	}
	e.Metrics.Fetches.WithLabelValues(ref.Backend, telemetry.Classify(r.Err)).Inc()
	if r.Err == nil && !r.Secret.Created.IsZero() {
		e.Metrics.SecretAge.WithLabelValues(ref.Backend, ref.String()).Set(time.Since(r.Secret.Created).Seconds())
	}
}

func (e *Engine) observeDuration(backend string, d time.Duration) {
	if e.Metrics != nil {
		e.Metrics.FetchDuration.WithLabelValues(backend).Observe(d.Seconds())
	}
}
