package tmpl

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

func lookupFrom(m map[string]string) Lookup {
	return func(r fetcher.Ref) (fetcher.Value, error) {
		v, ok := m[r.String()]
		if !ok {
			return fetcher.Value{}, fmt.Errorf("%s: %w", r, fetcher.ErrNotFound)
		}
		return fetcher.StringValue(v), nil
	}
}

func TestExecute(t *testing.T) {
	values := map[string]string{
		"swarm:db_password":                   "p@ss:w/rd%",
		"vault:database/creds/patas#username": "v-user",
		"vault:database/creds/patas#password": "v-pass",
	}
	tests := []struct {
		name, text, want string
		refs             []string
	}{
		{"guide DATABASE_URL", `postgresql+asyncpg://patas:{{ secret "swarm:db_password" | urlencode }}@db:5432/patas`,
			"postgresql+asyncpg://patas:p%40ss%3Aw%2Frd%25@db:5432/patas", []string{"swarm:db_password"}},
		{"one lease, two keys", `postgresql://{{ secret "vault:database/creds/patas#username" }}:{{ secret "vault:database/creds/patas#password" }}@db/patas`,
			"postgresql://v-user:v-pass@db/patas", []string{"vault:database/creds/patas#username", "vault:database/creds/patas#password"}},
		{"inside if and with", `{{ with secret "swarm:db_password" }}{{ if . }}x{{ end }}{{ end }}`, "x", []string{"swarm:db_password"}},
		{"same ref twice", `{{ secret "swarm:db_password" | len }}-{{ secret "swarm:db_password" | len }}`, "10-10", []string{"swarm:db_password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := Parse("X", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, r := range tp.Refs() {
				refs = append(refs, r.String())
			}
			if fmt.Sprint(refs) != fmt.Sprint(tt.refs) {
				t.Errorf("refs: got %v, want %v", refs, tt.refs)
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

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"computed ref": `{{ secret (printf "a:%s" "b") }}`,
		"piped ref":    `{{ "a:b" | secret }}`,
		"two args":     `{{ secret "a:b" "c:d" }}`,
		"bad ref":      `{{ secret "nobackend" }}`,
		"no secret":    `plain text`,
		"syntax":       `{{ secret "a:b" `,
		"unknown func": `{{ secrte "a:b" }}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse("X", text); err == nil {
				t.Errorf("Parse(%q): want an error", text)
			}
		})
	}
}

func TestNeverNoValue(t *testing.T) {
	tp, err := Parse("X", `{{ secret "a:b" }}{{ .Missing }}`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tp.Execute(lookupFrom(map[string]string{"a:b": "x"}))
	if err == nil {
		t.Fatalf("got %q, want an error for a missing field", v.Reveal())
	}
	_, err = tp.Execute(lookupFrom(nil))
	if !errors.Is(err, fetcher.ErrNotFound) && !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing secret: got %v, want not found", err)
	}
}

func TestErrorsAreScrubbed(t *testing.T) {
	const canary = "CANARY-tmpl-4711"
	// A failing call after a value was read must not carry that value out, even when the
	// failure's message quotes it (here: a lookup whose error names the first value).
	tp, err := Parse("X", `{{ secret "a:b" }}{{ secret "c:d" }}`)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(r fetcher.Ref) (fetcher.Value, error) {
		if r.String() == "a:b" {
			return fetcher.StringValue(canary), nil
		}
		return fetcher.Value{}, fmt.Errorf("backend said: bad input %s", canary)
	}
	_, err = tp.Execute(lookup)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), canary) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("got %v, want the value replaced by [REDACTED]", err)
	}
}

func TestURLEncode(t *testing.T) {
	if got, want := URLEncode("a-Z_0.~ @:/?#%+"), "a-Z_0.~%20%40%3A%2F%3F%23%25%2B"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
