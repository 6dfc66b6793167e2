package config

import (
	"github.com/patas/patas-secrets/fetcher/aws"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/fetcher/gcp"
	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/fetcher/vault"
)

// testBackends is the default build's registry, for the tests of this package.
var testBackends = registry.New([]registry.Type{aws.Type, file.Type, gcp.Type, vault.Type}, nil)
