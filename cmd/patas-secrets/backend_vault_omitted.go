//go:build no_vault

package main

import "github.com/patas/patas-secrets/fetcher/registry"

// Built with -tags no_vault: a config that names type vault is told which tag left it out.
func init() { omittedTypes = append(omittedTypes, registry.Omitted{Name: "vault", Tag: "no_vault"}) }
