//go:build no_gcp

package main

import "github.com/patas/patas-secrets/fetcher/registry"

// Built with -tags no_gcp: a config that names type gcp is told which tag left it out.
func init() { omittedTypes = append(omittedTypes, registry.Omitted{Name: "gcp", Tag: "no_gcp"}) }
