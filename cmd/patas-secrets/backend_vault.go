package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/vault"
	"github.com/patas/patas-secrets/internal/config"
)

// openVault builds the one Vault client of backend name; files in the config are taken
// relative to the config file.
func openVault(_ context.Context, _ string, b *config.VaultBackend, cfg *config.Config, log *zap.Logger) (fetcher.Backend, error) {
	return vault.New(vault.Options{
		Address:       b.Address,
		Namespace:     b.Namespace,
		CACert:        cfg.Abs(b.CACert),
		CAPath:        cfg.Abs(b.CAPath),
		ClientCert:    cfg.Abs(b.ClientCert),
		ClientKey:     cfg.Abs(b.ClientKey),
		TLSServerName: b.TLSServerName,
		TLSSkipVerify: b.TLSSkipVerify,
		RequireTLS:    cfg.IsProduction() && !b.AllowInsecure,
		Auth: vault.Auth{
			Method:       b.AuthMethod(),
			Mount:        b.Auth.Mount,
			Role:         b.Auth.Role,
			TokenFile:    cfg.Abs(b.Auth.TokenFile),
			RoleIDFile:   cfg.Abs(b.Auth.RoleIDFile),
			SecretIDFile: cfg.Abs(b.Auth.SecretIDFile),
			JWTFile:      cfg.Abs(b.Auth.JWTFile),
		},
	}, log)
}
