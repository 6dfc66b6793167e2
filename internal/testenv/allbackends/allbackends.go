// Package allbackends gives tests outside cmd/patas-secrets the registry of the default
// build: every backend type. Only tests import it; the binary's registry is built in main
// from its build tags.
package allbackends

import (
	"github.com/patas/patas-secrets/fetcher/aws"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/fetcher/gcp"
	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/fetcher/vault"
)

// Registry returns a registry of every backend type.
func Registry() *registry.Registry {
	return registry.New([]registry.Type{aws.Type, file.Type, gcp.Type, vault.Type}, nil)
}
