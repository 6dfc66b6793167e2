package config

import (
	"slices"
	"strings"
	"time"
)

// Retry says how run retries after a failed refresh: waits doubling from Backoff up to
// MaxBackoff (and never beyond the interval), each with ±20% jitter. Attempts counts the
// consecutive failed refreshes after which on_failure: exit gives up.
//
//	refresh:
//	  retry: {attempts: 12, backoff: 1s, max_backoff: 2m}
//	  on_failure: keep_serving     # or exit
//	  concurrency: 8
//	  read_timeout: 30s
type Retry struct {
	Attempts   *int     `yaml:"attempts"`
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
}

// What run does when a refresh keeps failing (refresh.on_failure).
const (
	// OnFailureKeepServing keeps the last good outputs and retries for ever: liveness stays
	// up, readiness turns down after max_staleness. The default.
	OnFailureKeepServing = "keep_serving"
	// OnFailureExit makes run exit 1 after retry.attempts consecutive failed refreshes, so
	// the orchestrator restarts it (Vault Agent's exit_on_retry_failure).
	OnFailureExit = "exit"
)

// OnFailures are the values refresh.on_failure may take.
var OnFailures = []string{OnFailureKeepServing, OnFailureExit}

// Retry defaults: consul-template's and Vault Agent's attempts (12); the backoff run had
// before it was configurable.
const (
	DefaultRetryAttempts   = 12
	DefaultRetryBackoff    = time.Second
	DefaultRetryMaxBackoff = 2 * time.Minute
	DefaultConcurrency     = 8
)

// AttemptsOrDefault is retry.attempts, 12 when absent.
func (r Retry) AttemptsOrDefault() int {
	if r.Attempts == nil {
		return DefaultRetryAttempts
	}
	return *r.Attempts
}

// BackoffOrDefault is retry.backoff, 1s when absent.
func (r Retry) BackoffOrDefault() time.Duration {
	if r.Backoff == 0 {
		return DefaultRetryBackoff
	}
	return time.Duration(r.Backoff)
}

// MaxBackoffOrDefault is retry.max_backoff, 2m when absent.
func (r Retry) MaxBackoffOrDefault() time.Duration {
	if r.MaxBackoff == 0 {
		return DefaultRetryMaxBackoff
	}
	return time.Duration(r.MaxBackoff)
}

// ExitOnFailure reports whether run gives up after retry.attempts failed refreshes.
func (r Refresh) ExitOnFailure() bool { return r.OnFailure == OnFailureExit }

// ConcurrencyOrDefault is refresh.concurrency, 8 when absent.
func (r Refresh) ConcurrencyOrDefault() int {
	if r.Concurrency == 0 {
		return DefaultConcurrency
	}
	return r.Concurrency
}

func (c *Config) validateRetry(p *Problems) {
	r := c.Refresh
	if r.OnFailure != "" && !slices.Contains(OnFailures, r.OnFailure) {
		p.Add("refresh.on_failure", "unknown value %q (one of: %s)", r.OnFailure, strings.Join(OnFailures, ", "))
	}
	if a := r.Retry.Attempts; a != nil && *a < 1 {
		p.Add("refresh.retry.attempts", "must be at least 1, got %d (on_failure: keep_serving retries for ever)", *a)
	}
	if r.Retry.Backoff < 0 {
		p.Add("refresh.retry.backoff", "must not be negative")
	}
	if r.Retry.MaxBackoff < 0 {
		p.Add("refresh.retry.max_backoff", "must not be negative")
	}
	if r.Retry.MaxBackoff > 0 && r.Retry.MaxBackoffOrDefault() < r.Retry.BackoffOrDefault() {
		p.Add("refresh.retry.max_backoff", "%s is less than retry.backoff (%s)", time.Duration(r.Retry.MaxBackoff), r.Retry.BackoffOrDefault())
	}
	if r.Concurrency < 0 || r.Concurrency > 256 {
		p.Add("refresh.concurrency", "must be between 1 and 256, got %d", r.Concurrency)
	}
}
