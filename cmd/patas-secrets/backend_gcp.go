//go:build !no_gcp

package main

import "github.com/patas/patas-secrets/fetcher/gcp"

// The gcp backend is in the default build; -tags no_gcp leaves it (and its SDK) out.
func init() { backendTypes = append(backendTypes, gcp.Type) }
