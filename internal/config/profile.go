package config

import (
	"github.com/patas/patas-secrets/internal/profile/patas"
	"github.com/patas/patas-secrets/sinks"
)

// Profiles are the values validate.profile may take.
var Profiles = []string{patas.Name}

// ApplyProfile runs the rules of validate.profile (package internal/profile/patas) on the
// final variables; with no profile it returns them unchanged.
func (c *Config) ApplyProfile(snap sinks.Snapshot) (sinks.Snapshot, []string) {
	if c.Validation.Profile != patas.Name {
		return snap, nil
	}
	return patas.Apply(snap, patas.Options{Production: c.IsProduction(), LLMProvider: c.Validation.LLMProvider})
}

// ProfileErrorTitle heads the profile's problems the way the application prints them.
func (c *Config) ProfileErrorTitle() string { return patas.ErrorTitle(c.IsProduction()) }

// IsSetting reports whether the validation profile knows name as a setting, not a secret.
func (c *Config) IsSetting(name string) bool {
	return c.Validation.Profile == patas.Name && patas.IsSetting(name)
}
