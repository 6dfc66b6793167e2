package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/internal/config"
)

// The backend types of this build. Each backend_<type>.go adds its type unless its tag
// (no_<type>) leaves it out, and backend_<type>_omitted.go then records which tag did. This
// is the only place that names the concrete backends (STYLE.md: no registries inside the
// backend packages, no blank imports outside main).
var (
	backendTypes []registry.Type
	omittedTypes []registry.Omitted
)

// backendRegistry is what config decodes the backends entries with.
func backendRegistry() *registry.Registry { return registry.New(backendTypes, omittedTypes) }

// openBackends builds one client per configured backend through its type's settings.
func openBackends(ctx context.Context, cfg *config.Config, log *zap.Logger) (map[string]fetcher.Backend, error) {
	out := make(map[string]fetcher.Backend, len(cfg.Backends))
	for _, name := range cfg.BackendNames() {
		blog := log.With(zap.String("backend", name))
		b, err := cfg.Backends[name].Settings.Open(ctx, cfg.BackendEnv(name, blog))
		if err != nil {
			closeBackends(out)
			return nil, fmt.Errorf("backend %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

func closeBackends(bs map[string]fetcher.Backend) {
	for _, b := range bs {
		_ = b.Close()
	}
}
