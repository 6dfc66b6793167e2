//go:build !no_file

package main

import "github.com/patas/patas-secrets/fetcher/file"

// The file backend is in the default build; -tags no_file leaves it (and its SDK) out.
func init() { backendTypes = append(backendTypes, file.Type) }
