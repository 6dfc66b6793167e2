//go:build !no_vault

package main

import "github.com/patas/patas-secrets/fetcher/vault"

// The vault backend is in the default build; -tags no_vault leaves it (and its SDK) out.
func init() { backendTypes = append(backendTypes, vault.Type) }
