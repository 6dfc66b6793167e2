package tmpl

import (
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

// marker starts every value the fuzzed templates read, so that a leak is recognisable.
const marker = "Zq9SECRETzQ"

// FuzzTemplate: Parse and Execute never panic; a rendered value never holds "<no value>";
// an error never holds a value the template read (when the text itself does not).
func FuzzTemplate(f *testing.F) {
	for _, s := range []struct{ text, value string }{
		{`postgresql+asyncpg://patas:{{ secret "swarm:db_password" | urlencode }}@db:5432/patas`, "p@ss word/#?"},
		{`{{ secret "vault:secret/patas#api_keys" }}`, "k1,k2"},
		{`{{ secret "a:b" }}{{ .missing }}`, "x"},
		{`{{ index (secret "a:b") 99 }}`, "short"},
		{`{{ printf "%d" (secret "a:b") }}`, "not-a-number"},
		{`{{ secret "a:b" | len | printf "%s" }}`, "v"},
		{`{{ if secret "a:b" }}{{ secret "a:c" }}{{ end }}`, ""},
		{`{{ define "x" }}{{ secret "a:b" }}{{ end }}{{ template "x" }}`, "v"},
		{`{{ secret "a:b" | call }}`, "v"},
		{`{{ slice (secret "a:b") 1 2 }}`, "value"},
		{`{{ eq (secret "a:b") 1 }}`, "value"},
		{`{{ secret "a:b" }}{{ nil }}`, "v"},
	} {
		f.Add(s.text, s.value)
	}
	f.Fuzz(func(t *testing.T, text, value string) {
		tp, err := Parse("FUZZ", text)
		if err != nil {
			return
		}
		v := marker + value
		out, err := tp.Execute(func(fetcher.Ref) (fetcher.Value, error) { return fetcher.StringValue(v), nil })
		if err != nil {
			if !strings.Contains(text, marker) && strings.Contains(err.Error(), marker) {
				t.Fatalf("the error holds a value: %q", err)
			}
			return
		}
		if strings.Contains(string(out.Reveal()), "<no value>") {
			t.Fatalf("rendered <no value>: %q", out.Reveal())
		}
	})
}
