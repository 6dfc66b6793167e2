//go:build no_file

package main

import "github.com/patas/patas-secrets/fetcher/registry"

// Built with -tags no_file: a config that names type file is told which tag left it out.
func init() { omittedTypes = append(omittedTypes, registry.Omitted{Name: "file", Tag: "no_file"}) }
