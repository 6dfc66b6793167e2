package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	awsfetcher "github.com/patas/patas-secrets/fetcher/aws"
	"github.com/patas/patas-secrets/internal/config"
)

// openAWS builds the aws backend; credentials come from the SDK's default chain.
func openAWS(ctx context.Context, name string, b *config.AWSBackend, cfg *config.Config, log *zap.Logger) (fetcher.Backend, error) {
	return awsfetcher.New(ctx, awsfetcher.Options{
		Region:   b.Region,
		Endpoint: b.Endpoint,
		Profile:  b.Profile,
		RoleARN:  b.RoleARN,
	}, log)
}
