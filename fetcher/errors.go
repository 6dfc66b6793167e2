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

// ErrMissingKey means the secret exists but has no field of the name a ref's #key gives. It is
// not ErrNotFound: an optional entry tolerates a missing secret, never a mistyped key. The
// error names the key and the keys present (names only, never values).
var ErrMissingKey = errors.New("no key")
