package config

import "slices"

// patasSettings are variables of PATAS that configure it rather than hold a secret: the
// patas profile exempts them from the hygiene value checks (a provider name is short and
// of low entropy by nature).
var patasSettings = []string{
	"LLM_PROVIDER", "LLM_MODEL", "EMBEDDING_PROVIDER", "EMBEDDING_MODEL",
	"ENVIRONMENT", "LOG_LEVEL", "LOG_FORMAT",
}

// IsSetting reports whether the validation profile knows name as a setting, not a secret.
func (c *Config) IsSetting(name string) bool {
	return c.Validation.Profile == "patas" && slices.Contains(patasSettings, name)
}
