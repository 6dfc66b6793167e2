package aws

import (
	"context"
	"fmt"
	"time"

	shared "github.com/patas/patas-secrets/internal/backoff"
)

// backoff bounds the retries of a throttled call: at most attempts calls, waiting a random
// time in [0, min(max, base·2^n)) before retry n ("full jitter"), so that sidecars
// throttled together do not retry together.
type backoff struct {
	attempts  int
	base, max time.Duration
}

// defaultBackoff waits at most 0.25+0.5+1+2 = 3.75 s in all before giving up on a refresh;
// the engine's own backoff then takes over.
var defaultBackoff = backoff{attempts: 5, base: 250 * time.Millisecond, max: 4 * time.Second}

// delay is the shared policy with full jitter: uniform over (0, min(max, base·2^retry)].
func (b backoff) delay(retry int) time.Duration {
	return shared.Policy{Base: b.base, Max: b.max, Full: true}.Delay(retry)
}

// call runs fn until it returns something other than a throttling error, the attempts run
// out, or ctx ends. what names the call in the error.
func call[T any](ctx context.Context, b backoff, what string, fn func(context.Context) (T, error)) (T, error) {
	for n := 0; ; n++ {
		out, err := fn(ctx)
		if err == nil || !isThrottle(err) {
			return out, err
		}
		if n+1 >= b.attempts {
			return out, fmt.Errorf("%w after %d attempts: %w", ErrThrottled, b.attempts, err)
		}
		if err := b.wait(ctx, n); err != nil {
			var zero T
			return zero, fmt.Errorf("waiting to retry throttled %s: %w", what, err)
		}
	}
}

// wait sleeps before retry n, or returns ctx's error when ctx ends first.
func (b backoff) wait(ctx context.Context, retry int) error {
	return shared.Wait(ctx, b.delay(retry))
}
