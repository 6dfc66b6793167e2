package engine

import (
	"errors"
	"time"

	"github.com/patas/patas-secrets/internal/backoff"
)

// ErrRetriesExhausted is returned by Run when refresh.on_failure is exit and
// refresh.retry.attempts consecutive refreshes have failed.
var ErrRetriesExhausted = errors.New("retries exhausted")

// backoff is the wait after the failures-th consecutive failed refresh: retry.backoff
// doubling, capped at retry.max_backoff and at the interval (a refresh is due then anyway),
// with ±20% jitter so replicas do not retry in step.
func (e *Engine) backoff(failures int) time.Duration {
	r := e.cfg.Refresh.Retry
	return backoff.Policy{Base: r.BackoffOrDefault(), Max: min(r.MaxBackoffOrDefault(), e.interval()), Spread: 0.2}.Delay(failures - 1)
}

// giveUp reports whether run should stop after failures consecutive failed refreshes.
func (e *Engine) giveUp(failures int) bool {
	return e.cfg.Refresh.ExitOnFailure() && failures >= e.cfg.Refresh.Retry.AttemptsOrDefault()
}
