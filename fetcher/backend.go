// Package fetcher defines what every secret backend implements and the types that carry
// secrets through the program. It imports no cloud SDK; backends live in subpackages.
package fetcher

import (
	"context"
	"time"
)

// Backend reads secrets from one configured store.
type Backend interface {
	// Fetch reads the secret ref.Source() names (ref.Key is resolved by the caller with
	// Secret.Field, so that one read serves every key of a path). It returns an error
	// wrapping ErrNotFound or ErrPermission where those apply. Safe for concurrent use.
	Fetch(ctx context.Context, ref Ref) (Secret, error)
	Close() error
}

// Watcher is implemented by backends that can report changes (file watches). Watch calls
// changed (which must not block) whenever a source behind refs may have changed, until ctx
// is cancelled; it returns nil on cancellation.
type Watcher interface {
	Watch(ctx context.Context, refs []Ref, changed func()) error
}

// Secret is the result of one read.
type Secret struct {
	// Value is the whole payload for stores that hold blobs (a file, an AWS SecretString,
	// a GCP payload). It is unset for pure key/value stores such as Vault KV.
	Value Value
	// Data holds named fields: the store's own fields (Vault), or Value parsed as a JSON
	// object (or a dotenv file for the file backend). Nil when the payload has no fields.
	Data map[string]Value
	// Version is the backend's version id, for logs and metrics; not secret.
	Version string
	// Created is when this version was created, when the backend knows it.
	Created time.Time
	// TTL, when non-zero, is how long the secret stays valid (a lease); the engine
	// refreshes before it runs out.
	TTL time.Duration
	// RotatesIn, when non-zero, is when the backend itself replaces the secret (a Vault
	// database static role: the answer's ttl, no lease). Unlike TTL, the engine reads again
	// just AFTER this, since reading before it would only return the same value again.
	RotatesIn time.Duration
}

// Batcher is implemented by backends that read several secrets in fewer calls than one per
// secret (AWS BatchGetSecretValue). The engine hands it every distinct source of one
// refresh for that backend at once, instead of calling Fetch for each.
type Batcher interface {
	// FetchAll returns one result per ref, in the order of refs.
	FetchAll(ctx context.Context, refs []Ref) []Result
}

// Result is the outcome of reading one ref.
type Result struct {
	Secret Secret
	Err    error
}

// Versioned is implemented by backends that keep earlier versions of a secret (Vault KV v2,
// AWS stages, GCP versions). The engine uses it for overlap windows: while a rotation is
// recent, a list-valued variable holds the previous version's items too, even in a sidecar
// that never saw the previous version (a pod started mid-window on a fresh volume).
type Versioned interface {
	// Previous reads the version that was current before current, which was just read from
	// ref (a ref without a version). The answer carries that version's Version and Created.
	// It returns an error wrapping ErrNotFound when there is no earlier readable version (a
	// first version; every earlier one deleted or destroyed), and errors.ErrUnsupported when
	// ref names a kind of secret that keeps no history (a KV version 1 mount, an SSM path).
	Previous(ctx context.Context, ref Ref, current Secret) (Secret, error)
}
