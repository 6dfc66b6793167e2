package main

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
)

// openGCP is replaced when the gcp backend lands; config validation already refuses type gcp.
func openGCP(ctx context.Context, name string, b *config.GCPBackend, cfg *config.Config, log *zap.Logger) (fetcher.Backend, error) {
	return nil, errors.New("the gcp backend is not in this build yet")
}
