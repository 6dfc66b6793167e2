//go:build no_aws

package main

import "github.com/patas/patas-secrets/fetcher/registry"

// Built with -tags no_aws: a config that names type aws is told which tag left it out.
func init() { omittedTypes = append(omittedTypes, registry.Omitted{Name: "aws", Tag: "no_aws"}) }
