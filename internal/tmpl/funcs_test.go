package tmpl

import (
	"strings"
	"testing"
)

func TestFunctions(t *testing.T) {
	t.Setenv("PATAS_TEST_DB_HOST", "db.internal")
	values := map[string]string{
		"s:b64":    "aHVudGVyMg==", // hunter2
		"s:padded": "  sk-live-1\n",
		"s:list":   "k1:prod,k2:staging",
		"s:empty":  "",
		"s:quote":  `a"b\c<d>&`,
	}
	tests := []struct{ name, text, want string }{
		{"base64Decode", `{{ secret "s:b64" | base64Decode }}`, "hunter2"},
		{"base64Encode", `{{ secret "s:quote" | base64Encode }}`, "YSJiXGM8ZD4m"},
		{"round trip", `{{ secret "s:quote" | base64Encode | base64Decode }}`, `a"b\c<d>&`},
		{"trimSpace", `[{{ secret "s:padded" | trimSpace }}]`, "[sk-live-1]"},
		{"toJSON string", `{"key": {{ secret "s:quote" | toJSON }}}`, `{"key": "a\"b\\c<d>&"}`},
		{"toJSON list", `{{ secret "s:list" | split "," | toJSON }}`, `["k1:prod","k2:staging"]`},
		{"split and range", `{{ range secret "s:list" | split "," }}[{{ . }}]{{ end }}`, "[k1:prod][k2:staging]"},
		{"split and join", `{{ secret "s:list" | split "," | join "\n" }}`, "k1:prod\nk2:staging"},
		{"default on empty", `{{ secret "s:empty" | default "none" }}`, "none"},
		{"default keeps a value", `{{ secret "s:padded" | trimSpace | default "none" }}`, "sk-live-1"},
		{"env", `{{ env "PATAS_TEST_DB_HOST" }}:{{ secret "s:b64" | base64Decode }}`, "db.internal:hunter2"},
		{"env default", `{{ env "PATAS_TEST_UNSET_HOST" "localhost" }}/{{ secret "s:empty" }}`, "localhost/"},
		{"urlencode", `{{ secret "s:quote" | urlencode }}`, "a%22b%5Cc%3Cd%3E%26"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := Parse("F", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			v, err := tp.Execute(lookupFrom(values))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(v.Reveal()); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFunctionErrorsCarryNoValue plants canaries, makes each function fail on them, and
// checks that the error names the problem but holds neither the canary nor anything
// derived from it.
func TestFunctionErrorsCarryNoValue(t *testing.T) {
	const canary = "CANARY-7f3a9c"
	values := map[string]string{
		"s:canary":   canary,
		"s:b64":      "Q0FOQVJZLTdmM2E5Yw==", // base64 of the canary
		"s:notb64":   canary + "!!",
		"s:list":     canary + ",second-item",
		"s:spaced":   " " + canary + " ",
		"s:json":     `{"k":"` + canary + `"}`,
		"s:listonly": "first-item," + canary,
	}
	tests := []struct{ name, text, want string }{
		{"base64Decode of non-base64", `{{ secret "s:notb64" | base64Decode }}`, "not valid standard base64"},
		{"decoded value used as a field", `{{ (secret "s:b64" | base64Decode).Field }}`, "can't evaluate field Field"},
		{"decoded value in index", `{{ index (secret "s:b64" | base64Decode) 99 }}`, "index out of range"},
		{"split item out of range", `{{ index (secret "s:list" | split ",") 5 }}`, "index out of range"},
		{"toJSON of a number", `{{ toJSON 3 }}{{ secret "s:canary" }}`, "toJSON: takes a string"},
		{"trimmed value compared", `{{ if eq (secret "s:spaced" | trimSpace) 3 }}{{ end }}`, "incompatible types"},
		{"joined value as a map", `{{ index (secret "s:listonly" | split "," | join "-") "k" }}`, "cannot index"},
		{"secret value as a template name", `{{ $x := secret "s:canary" }}{{ printf "%s" $x | len | printf "%d" | index $x }}`, "index"},
		{"missing key", `{{ secret "s:nope" }}`, "not found"},
		{"missing field of the data", `{{ secret "s:canary" }}{{ .Password }}`, "Password"},
		{"unset env", `{{ env "PATAS_TEST_NOT_SET" }}{{ secret "s:canary" }}`, `env "PATAS_TEST_NOT_SET" is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := Parse("F", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			v, err := tp.Execute(lookupFrom(values))
			if err == nil {
				t.Fatalf("rendered without error (%d bytes), want an error", v.Len())
			}
			msg := err.Error()
			for _, leak := range []string{canary, "7f3a9c", "Q0FOQVJZ"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error holds %q: %s", leak, msg)
				}
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want it to mention %q", msg, tt.want)
			}
		})
	}
}

func TestEnvRules(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"credential-like name", `{{ env "DB_PASSWORD" }}{{ secret "s:x" }}`, "looks like a credential"},
		{"token", `{{ env "VAULT_TOKEN" }}{{ secret "s:x" }}`, "looks like a credential"},
		{"api key", `{{ env "OPENAI_API_KEY" }}{{ secret "s:x" }}`, "looks like a credential"},
		{"computed name", `{{ env (secret "s:x") }}`, "env takes a quoted name"},
		{"no name", `{{ env }}{{ secret "s:x" }}`, "env takes a quoted name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("F", tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := Parse("F", `{{ env "DB_HOST" "db" }}{{ secret "s:x" }}`); err != nil {
		t.Errorf("a plain setting: %v", err)
	}
}
