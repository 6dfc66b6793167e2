// Package patas holds PATAS's own start-up rules, the `patas` validation profile, so that
// config stays about the file's schema: what PATAS requires of its variables is PATAS's
// business, written down once here and applied by the engine before anything is written.
package patas

import (
	"slices"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// Name is the value of validate.profile that selects these rules.
const Name = "patas"

// Options are what the rules need from the config.
type Options struct {
	Production  bool
	LLMProvider string // validate.llm_provider; else the LLM_PROVIDER variable
}

// Apply runs PATAS's start-up rules on the final variables, before anything is written. It
// returns the variables (the rules may add a fallback) and the problems, worded as PATAS
// prints them, so an operator sees the same message from the sidecar as from the app.
//
// The rules follow PATAS's secret-management guide:
//   - in production, API_KEYS must be configured;
//   - when the LLM provider is OpenAI, LLM_API_KEY (or its alternative name OPENAI_API_KEY)
//     is required; the provider is validate.llm_provider, else the LLM_PROVIDER variable;
//   - EMBEDDING_API_KEY falls back to LLM_API_KEY (then OPENAI_API_KEY): when it is not set,
//     the profile sets it, as PATAS would.
func Apply(snap sinks.Snapshot, o Options) (sinks.Snapshot, []string) {
	has := func(name string) (fetcher.Value, bool) {
		v, ok := snap.Get(name)
		return v, ok && v.Len() > 0
	}
	var probs []string
	if _, ok := has("API_KEYS"); !ok && o.Production {
		probs = append(probs, "API_KEYS must be configured in production")
	}
	provider := o.LLMProvider
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

// ErrorTitle heads the problems the way PATAS prints them.
func ErrorTitle(production bool) string {
	if production {
		return "Production configuration errors:"
	}
	return "Configuration errors:"
}

// settings are variables of PATAS that configure it rather than hold a secret: the
// hygiene value checks exempt them (a provider name is short and of low entropy by nature).
var settings = []string{
	"LLM_PROVIDER", "LLM_MODEL", "EMBEDDING_PROVIDER", "EMBEDDING_MODEL",
	"ENVIRONMENT", "LOG_LEVEL", "LOG_FORMAT",
}

// IsSetting reports whether PATAS reads name as a setting, not a secret.
func IsSetting(name string) bool { return slices.Contains(settings, name) }
