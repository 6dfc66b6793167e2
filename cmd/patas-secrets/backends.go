package main

import (
	"context"
	"fmt"
	"sort"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/config"
)

// openBackends builds one client per configured backend. This is the only place that names
// the concrete backends; each has its own openX in backend_X.go.
func openBackends(ctx context.Context, cfg *config.Config, log *zap.Logger) (map[string]fetcher.Backend, error) {
	names := make([]string, 0, len(cfg.Backends))
	for n := range cfg.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]fetcher.Backend, len(names))
	for _, name := range names {
		b, err := openBackend(ctx, name, cfg.Backends[name], cfg, log.With(zap.String("backend", name)))
		if err != nil {
			closeBackends(out)
			return nil, fmt.Errorf("backend %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

func openBackend(ctx context.Context, name string, b config.Backend, cfg *config.Config, log *zap.Logger) (fetcher.Backend, error) {
	switch {
	case b.File != nil:
		var opts []file.Option
		if !b.File.DotenvAllowed(cfg) {
			opts = append(opts, file.NoDotenv())
		}
		return file.New(cfg.Abs(b.File.Dir), log, opts...)
	case b.Vault != nil:
		return openVault(ctx, name, b.Vault, cfg, log)
	case b.AWS != nil:
		return openAWS(ctx, name, b.AWS, cfg, log)
	case b.GCP != nil:
		return openGCP(ctx, name, b.GCP, cfg, log)
	}
	return nil, fmt.Errorf("unknown backend type %q", b.Type)
}

func closeBackends(bs map[string]fetcher.Backend) {
	for _, b := range bs {
		_ = b.Close()
	}
}
