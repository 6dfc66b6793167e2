// Package backoff is the one retry spacing of patas-secrets: exponential delays with
// jitter, so replicas that fail together do not retry together, and a wait that ends with
// its context. The engine, the notifiers, the AWS and GCP retries, the Vault token renewer
// and the exec supervisor's restart pacing all use it.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Policy spaces retries: retry n waits Base·2^n, capped at Max, then spread by the jitter.
type Policy struct {
	Base time.Duration // the first delay
	Max  time.Duration // the cap; 0 means none
	// Spread is the jitter as a fraction: each delay is uniform over d±Spread·d.
	Spread float64
	// Full is "full jitter": each delay is uniform over (0, d], for retries of a throttled
	// call, where spreading the herd matters more than the mean delay.
	Full bool
}

// Delay is the wait before retry n (0 for the first retry).
func (p Policy) Delay(n int) time.Duration {
	shift := min(max(n, 0), 62)
	d := p.Base << shift
	if d>>shift != p.Base || d <= 0 {
		d = math.MaxInt64 // overflowed
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	if p.Full {
		if d <= 0 {
			return 0
		}
		return rand.N(d) + 1
	}
	return Jitter(d, p.Spread)
}

// Jitter returns d spread uniformly over d±frac·d (frac in [0, 1]).
func Jitter(d time.Duration, frac float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	spread := float64(d) * min(frac, 1)
	return time.Duration(float64(d) - spread + rand.Float64()*2*spread)
}

// Wait waits d, or returns ctx's error when ctx ends first.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
