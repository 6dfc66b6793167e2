package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/gcp"
	"github.com/patas/patas-secrets/internal/config"
)

// openGCP builds the one Secret Manager client of a gcp backend entry.
func openGCP(ctx context.Context, name string, b *config.GCPBackend, cfg *config.Config, log *zap.Logger) (fetcher.Backend, error) {
	return gcp.New(ctx, gcp.Options{
		Project:  b.Project,
		Location: b.Location,
		Endpoint: b.Endpoint,
		Insecure: b.Insecure,
	}, log)
}
