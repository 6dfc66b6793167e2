package patas

import (
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

func snap(kv ...string) sinks.Snapshot {
	var s sinks.Snapshot
	for i := 0; i+1 < len(kv); i += 2 {
		s.Vars = append(s.Vars, sinks.Var{Name: kv[i], Value: fetcher.StringValue(kv[i+1])})
	}
	return s
}

func TestPatasProfile(t *testing.T) {
	tests := []struct {
		name, env, provider string
		in                  sinks.Snapshot
		want                []string
		embedding           string
	}{
		{"production without API_KEYS", "production", "", snap("DATABASE_URL", "x"), []string{"API_KEYS must be configured in production"}, ""},
		{"development without API_KEYS", "development", "", snap("DATABASE_URL", "x"), nil, ""},
		{"openai without key", "production", "openai", snap("API_KEYS", "k:n"), []string{"LLM_API_KEY required when using OpenAI LLM provider"}, ""},
		{"both messages", "production", "OpenAI", snap(), []string{"API_KEYS must be configured in production", "LLM_API_KEY required when using OpenAI LLM provider"}, ""},
		{"provider from LLM_PROVIDER", "production", "", snap("API_KEYS", "k:n", "LLM_PROVIDER", "openai"), []string{"LLM_API_KEY required when using OpenAI LLM provider"}, ""},
		{"OPENAI_API_KEY counts", "production", "openai", snap("API_KEYS", "k:n", "OPENAI_API_KEY", "sk-o"), nil, "sk-o"},
		{"embedding falls back to LLM_API_KEY", "production", "openai", snap("API_KEYS", "k:n", "LLM_API_KEY", "sk-l"), nil, "sk-l"},
		{"embedding kept when set", "production", "openai", snap("API_KEYS", "k:n", "LLM_API_KEY", "sk-l", "EMBEDDING_API_KEY", "sk-e"), nil, "sk-e"},
		{"empty embedding replaced", "production", "", snap("API_KEYS", "k:n", "LLM_API_KEY", "sk-l", "EMBEDDING_API_KEY", ""), nil, "sk-l"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, probs := Apply(tt.in, Options{Production: tt.env == "production", LLMProvider: tt.provider})
			if strings.Join(probs, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", probs, tt.want)
			}
			v, ok := out.Get("EMBEDDING_API_KEY")
			if got := string(v.Reveal()); got != tt.embedding || ok != (tt.embedding != "") {
				t.Errorf("EMBEDDING_API_KEY: got %q (set %v), want %q", got, ok, tt.embedding)
			}
		})
	}
	if !IsSetting("LLM_PROVIDER") || IsSetting("LLM_API_KEY") {
		t.Errorf("IsSetting: LLM_PROVIDER is a setting, LLM_API_KEY a secret")
	}
}
