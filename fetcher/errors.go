package fetcher

import "errors"

// Sentinel errors that backends wrap, so the engine can tell a missing secret (which an
// optional entry tolerates) and a refused credential (reported as an auth failure) from a
// network problem (retried with backoff, last good output kept).
var (
	ErrNotFound   = errors.New("secret not found")
	ErrPermission = errors.New("permission denied")
)

// ErrThrottled means the backend kept refusing for rate reasons (HTTP 429, AWS
// ThrottlingException) after the backend's own bounded retries.
var ErrThrottled = errors.New("throttled")
