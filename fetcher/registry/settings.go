package registry

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// Settings is one backends entry decoded into its type's settings struct.
type Settings interface {
	// Validate adds every problem of the settings, each at its field path relative to the
	// entry ("auth.role"; "" for the entry itself). It reaches no network.
	Validate(env Env, p *Problems)
	// CheckRef checks a ref that names this backend, with the same parse Fetch uses, so
	// config reports at load what Fetch would refuse. The error does not repeat the ref.
	CheckRef(env Env, r fetcher.Ref, use Use) error
	// Open builds the backend. It may not reach the network yet: a backend down at
	// start-up is retried by the engine like any other outage.
	Open(ctx context.Context, env Env) (fetcher.Backend, error)
}

// Env is what a backend's settings need from around them.
type Env struct {
	Name       string // the entry's name under backends
	Production bool   // environment: production, where insecure settings are refused
	Dir        string // the config file's directory; relative paths are relative to it
	Log        *zap.Logger
}

// Abs resolves p relative to the config file's directory.
func (e Env) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

// Use says how a config entry uses a ref, for the checks that depend on it.
type Use struct {
	// Expand: the entry sets one variable per key of the secret.
	Expand bool
}

// Problem is one thing wrong with a backend's settings, at Field (relative to the entry).
type Problem struct {
	Field string
	Msg   string
}

// Problems collects every problem of one entry.
type Problems []Problem

// Add records a problem; args are formatted into msg.
func (p *Problems) Add(field, msg string, args ...any) {
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	*p = append(*p, Problem{Field: field, Msg: msg})
}

// LoopbackHost reports whether h (a host without port) names this machine: the endpoints
// that may speak plain http or plaintext gRPC.
func LoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
