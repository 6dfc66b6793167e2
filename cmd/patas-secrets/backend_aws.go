package main

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
)

// openAWS is replaced when the aws backend lands; config validation already refuses type aws.
func openAWS(ctx context.Context, name string, b *config.AWSBackend, cfg *config.Config, log *zap.Logger) (fetcher.Backend, error) {
	return nil, errors.New("the aws backend is not in this build yet")
}
