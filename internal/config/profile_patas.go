package config

import (
	"strings"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// ApplyProfile runs the start-up rules of validate.profile on the final variables, before
// anything is written. It returns the variables (a profile may add a fallback) and the
// problems, worded as the application prints them, so an operator sees the same message
// from the sidecar as from the app.
//
// The patas profile follows PATAS's secret-management guide:
//   - in production, API_KEYS must be configured;
//   - when the LLM provider is OpenAI, LLM_API_KEY (or its alternative name OPENAI_API_KEY)
//     is required; the provider is validate.llm_provider, else the LLM_PROVIDER variable;
//   - EMBEDDING_API_KEY falls back to LLM_API_KEY (then OPENAI_API_KEY): when it is not set,
//     the profile sets it, as PATAS would.
func (c *Config) ApplyProfile(snap sinks.Snapshot) (sinks.Snapshot, []string) {
	if c.Validation.Profile != "patas" {
		return snap, nil
	}
	has := func(name string) (fetcher.Value, bool) {
		v, ok := snap.Get(name)
		return v, ok && v.Len() > 0
	}
	var probs []string
	if _, ok := has("API_KEYS"); !ok && c.IsProduction() {
		probs = append(probs, "API_KEYS must be configured in production")
	}
	provider := c.Validation.LLMProvider
	if v, ok := has("LLM_PROVIDER"); provider == "" && ok {
		provider = string(v.Reveal()) // a provider name, not a secret
	}
	llm, hasLLM := has("LLM_API_KEY")
	if !hasLLM {
		llm, hasLLM = has("OPENAI_API_KEY")
	}
	if strings.EqualFold(provider, "openai") && !hasLLM {
		probs = append(probs, "LLM_API_KEY required when using OpenAI LLM provider")
	}
	if _, ok := has("EMBEDDING_API_KEY"); !ok && hasLLM {
		vars := append([]sinks.Var{}, snap.Vars...)
		for i, v := range vars {
			if v.Name == "EMBEDDING_API_KEY" { // present but empty
				vars = append(vars[:i], vars[i+1:]...)
				break
			}
		}
		snap = sinks.Snapshot{Vars: append(vars, sinks.Var{Name: "EMBEDDING_API_KEY", Value: llm})}
	}
	return snap, probs
}

// ProfileErrorTitle heads the profile's problems the way PATAS prints them.
func (c *Config) ProfileErrorTitle() string {
	if c.IsProduction() {
		return "Production configuration errors:"
	}
	return "Configuration errors:"
}
