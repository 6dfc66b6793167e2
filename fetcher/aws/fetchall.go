package aws

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/patas/patas-secrets/fetcher"
)

const (
	secretsPerBatch = 20 // BatchGetSecretValue's limit on SecretIdList
	namesPerCall    = 10 // GetParameters' limit on Names
	parallelCalls   = 4  // calls in flight at once during one refresh
)

// FetchAll reads refs in as few calls as AWS allows: each distinct target once; unversioned
// secrets 20 per BatchGetSecretValue; unversioned SSM parameters 10 per GetParameters;
// secrets pinned to a version id (once per process), other stages than AWSCURRENT, SSM
// versions or labels, and SSM paths one call (or page) each.
func (c *Client) FetchAll(ctx context.Context, refs []fetcher.Ref) []fetcher.Result {
	results := make([]fetcher.Result, len(refs))
	users := map[target][]int{}
	var batch, names, singles []target
	for i, r := range refs {
		t, err := parseTarget(r)
		if err != nil {
			results[i].Err = fmt.Errorf("%s: %w", r, err)
			continue
		}
		if _, seen := users[t]; !seen {
			switch {
			case t.batchable():
				batch = append(batch, t)
			case t.kind == parameterKind && t.selector == "":
				names = append(names, t)
			default:
				singles = append(singles, t)
			}
		}
		users[t] = append(users[t], i)
	}
	c.log.Debug("reading from AWS", zap.Int("refs", len(refs)), zap.Int("secrets_current", len(batch)),
		zap.Int("ssm_parameters", len(names)), zap.Int("other_reads", len(singles)))

	var mu sync.Mutex
	got := make(map[target]fetcher.Result, len(users))
	set := func(t target, r fetcher.Result) {
		mu.Lock()
		got[t] = r
		mu.Unlock()
	}
	var g errgroup.Group
	g.SetLimit(parallelCalls)
	for _, chunk := range chunks(batch, secretsPerBatch) {
		g.Go(func() error { c.readSecretBatch(ctx, chunk, set); return nil })
	}
	for _, chunk := range chunks(names, namesPerCall) {
		g.Go(func() error { c.readParameters(ctx, chunk, set); return nil })
	}
	for _, t := range singles {
		g.Go(func() error {
			switch t.kind {
			case pathKind:
				set(t, c.readPath(ctx, t))
			case parameterKind:
				set(t, c.readParameter(ctx, t))
			default:
				set(t, c.readSecret(ctx, t))
			}
			return nil
		})
	}
	_ = g.Wait() // the tasks report through set, never through the group

	for t, idx := range users {
		r, ok := got[t]
		if !ok {
			r.Err = fmt.Errorf("%s: not read", t.describe()) // a bug if it happens
		}
		for _, i := range idx {
			results[i] = r
		}
	}
	return results
}

func chunks(ts []target, n int) [][]target {
	var out [][]target
	for len(ts) > n {
		out = append(out, ts[:n:n])
		ts = ts[n:]
	}
	if len(ts) > 0 {
		out = append(out, ts)
	}
	return out
}
