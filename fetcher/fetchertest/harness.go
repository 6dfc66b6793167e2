// Package fetchertest is the conformance suite every backend runs against its real server
// (files on disk, the Vault dev server, moto, the gcpsm server). A backend plugs in by
// implementing Harness in its own tests and calling Run:
//
//	func TestConformance(t *testing.T) { fetchertest.Run(t, &myHarness{...}) }
//
// The suite checks what the engine relies on: a read returns the seeded fields; a missing
// secret, a refused read and a missing key are three distinct errors (fetcher.ErrNotFound,
// fetcher.ErrPermission, fetcher.ErrMissingKey); pinned versions; the previous version with
// its creation time (fetcher.Versioned) or a declared "unsupported" that really is; a 429
// from a fault proxy surfaces as fetcher.ErrThrottled; no seeded value in any error or log
// line; every call ends within its context's deadline when the server hangs; concurrent
// reads are safe (run with -race).
package fetchertest

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// Harness connects the suite to one backend and its real server. Every method may fail t.
type Harness interface {
	// Caps declares what the backend supports; the suite checks each claim either way.
	Caps() Caps

	// Endpoint is the base URL of the backend's HTTP server ("http://127.0.0.1:PORT"), which
	// the suite puts a fault proxy in front of; "" when the backend has no server (files).
	Endpoint() string

	// Open returns a new backend under test that logs to log. endpoint is "" to reach the
	// server directly, or the URL of a fault proxy to send every request through. The
	// harness closes it when t ends.
	Open(t *testing.T, endpoint string, log *zap.Logger) fetcher.Backend

	// Seed writes a new secret (a fresh name each call) holding fields and returns the ref
	// that reads it, without key or version. Backends that store a blob store the fields
	// as a JSON object.
	Seed(t *testing.T, fields map[string]string) fetcher.Ref

	// Rotate writes fields as the new current version of ref's secret. For a backend
	// without versions it replaces the content.
	Rotate(t *testing.T, ref fetcher.Ref, fields map[string]string)

	// Missing returns a ref to a secret that does not exist.
	Missing(t *testing.T) fetcher.Ref

	// ReadDenied reads, with a backend whose credentials may not, a secret that exists,
	// and returns the error (the harness chooses how: a token whose policy refuses the
	// path, credentials the server rejects, a file the process may not open). ctx bounds
	// the harness's setup (which may start a server of its own) and the read.
	ReadDenied(t *testing.T, ctx context.Context, log *zap.Logger) error
}

// Caps is what a backend declares it supports.
type Caps struct {
	// Versions: a ref pinned with @VERSION (the Version a read reported) reads that version
	// after a rotation. When false the suite checks that a pinned ref is refused.
	Versions bool
	// Previous: the backend implements fetcher.Versioned and returns the version before
	// the current one with its creation time. When false the suite checks that it either
	// does not implement fetcher.Versioned or answers errors.ErrUnsupported.
	Previous bool
	// Created: reads report the version's creation time (Secret.Created).
	Created bool
	// Unsupported explains, for the README table, what the backend cannot do; not checked.
	Note string
}
