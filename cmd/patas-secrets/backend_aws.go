//go:build !no_aws

package main

import awsfetcher "github.com/patas/patas-secrets/fetcher/aws"

// The aws backend is in the default build; -tags no_aws leaves it (and its SDK) out.
func init() { backendTypes = append(backendTypes, awsfetcher.Type) }
