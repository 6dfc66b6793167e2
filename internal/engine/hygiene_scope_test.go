package engine

import (
	"strings"
	"testing"
)

// TestHygieneOnlyOnSecrets: in production, a setting (an entry with hygiene: false, or a
// name the patas profile knows as a setting, such as LLM_PROVIDER) is not flagged, a
// secret still is, and min_length: 0 turns the length check off instead of meaning 16.
func TestHygieneOnlyOnSecrets(t *testing.T) {
	findings := func(t *testing.T, secrets, extra string) string {
		t.Helper()
		e, f, _, logs := setup(t, secrets, "environment: production\n"+extra)
		f.put("provider", "openai")
		f.put("mode", "fast")
		f.put("key", "Zq8vK2mP9xL4tR7wB3nC6yH1")
		f.put("short", "Zq8vK2mP9x")
		resolved(t, e)
		var out []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"secret hygiene"`) {
				out = append(out, line)
			}
		}
		return strings.Join(out, "\n")
	}
	t.Run("settings are not judged", func(t *testing.T) {
		got := findings(t, `
  - {env: LLM_PROVIDER, ref: 'f:provider'}
  - {env: APP_MODE, ref: 'f:mode', hygiene: false}
  - {env: LLM_API_KEY, ref: 'f:key'}
  - {env: API_KEYS, ref: 'f:key'}
  - {env: SHORT_KEY, ref: 'f:short'}
`, "validate: {profile: patas, llm_provider: openai}\n")
		for _, name := range []string{"LLM_PROVIDER", "APP_MODE"} {
			if strings.Contains(got, `"subject":"`+name+`"`) {
				t.Errorf("%s (a setting) was flagged:\n%s", name, got)
			}
		}
		if !strings.Contains(got, `"rule":"too_short","subject":"SHORT_KEY"`) {
			t.Errorf("a short secret was not flagged:\n%s", got)
		}
	})
	t.Run("LLM_PROVIDER without the profile is judged", func(t *testing.T) {
		if got := findings(t, "  - {env: LLM_PROVIDER, ref: 'f:provider'}\n", ""); !strings.Contains(got, `"subject":"LLM_PROVIDER"`) {
			t.Errorf("without the patas profile LLM_PROVIDER is a variable like any other; got:\n%s", got)
		}
	})
	t.Run("min_length 0 is off", func(t *testing.T) {
		got := findings(t, "  - {env: SHORT_KEY, ref: 'f:short'}\n", "hygiene: {min_length: 0}\n")
		if strings.Contains(got, "too_short") {
			t.Errorf("min_length: 0 still flags too_short:\n%s", got)
		}
	})
}
