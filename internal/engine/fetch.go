package engine

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/patas/patas-secrets/fetcher"
)

// fetchAll reads every distinct source once, concurrently within the limit, and returns
// the results by source (ref.String() of a key-less ref). It never stops early: every
// failure is reported against the entries that needed it.
func (e *Engine) fetchAll(ctx context.Context) map[string]fetcher.Result {
	results := make(map[string]fetcher.Result)
	var mu sync.Mutex
	record := func(r fetcher.Ref, res fetcher.Result) {
		e.audit(r, res)
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
				rs := batcher.FetchAll(ctx, refs)
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
				s, err := b.Fetch(ctx, r)
				record(r, fetcher.Result{Secret: s, Err: err})
				return nil
			})
		}
	}
	_ = g.Wait()
	return results
}

// audit logs one secret read: which ref, which version, what result; never the value.
func (e *Engine) audit(ref fetcher.Ref, r fetcher.Result) {
	if r.Err != nil {
		e.log.Debug("secret read failed", zap.String("ref", ref.String()), zap.Error(r.Err))
		return
	}
	fields := []zap.Field{zap.String("ref", ref.String()), zap.String("version", r.Secret.Version)}
	if r.Secret.TTL > 0 {
		fields = append(fields, zap.Duration("ttl", r.Secret.TTL))
	}
	if !r.Secret.Created.IsZero() {
		fields = append(fields, zap.Time("created", r.Secret.Created.Round(time.Second)))
	}
	e.log.Debug("secret read", fields...)
}
