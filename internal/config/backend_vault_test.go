package config

import (
	"strings"
	"testing"
)

func TestVaultBackendValidation(t *testing.T) {
	base := func(env, backend string) string {
		return "environment: " + env + "\nbackends:\n  vault: " + backend + `
secrets:
  - {env: API_KEYS, ref: "vault:secret/patas#api_keys"}
outputs:
  - {format: dotenv, path: out.env}
`
	}
	tests := []struct {
		name string
		env  string
		yaml string
		want []string // substrings of the problems; none means valid
	}{
		{"token from VAULT_TOKEN", "development", `{type: vault, address: "http://127.0.0.1:8200"}`, nil},
		{"kubernetes", "production", `{type: vault, address: "https://vault:8200", auth: {method: kubernetes, role: patas}}`, nil},
		{"approle", "production", `{type: vault, address: "https://vault:8200", auth: {method: approle, role_id_file: /r, secret_id_file: /s}}`, nil},
		{"jwt", "production", `{type: vault, address: "https://vault:8200", auth: {method: jwt, role: ci, jwt_file: /j, mount: gitlab}}`, nil},
		{"unknown method lists the methods", "development", `{type: vault, auth: {method: ldap}}`,
			[]string{`backends.vault.auth.method: unknown auth method "ldap" (methods: token, approle, kubernetes, jwt)`}},
		{"field of another method", "development", `{type: vault, auth: {method: token, role_id_file: /r}}`,
			[]string{"backends.vault.auth.role_id_file: does not apply to auth method token"}},
		{"kubernetes without role", "development", `{type: vault, auth: {method: kubernetes}}`,
			[]string{"backends.vault.auth.role: required"}},
		{"approle without role_id_file", "development", `{type: vault, auth: {method: approle}}`,
			[]string{"backends.vault.auth.role_id_file: required"}},
		{"jwt without jwt_file", "development", `{type: vault, auth: {method: jwt, role: r}}`,
			[]string{"backends.vault.auth.jwt_file: required"}},
		{"approle wrapped, removed, token sink", "production", `{type: vault, address: "https://vault:8200", auth: {method: approle, role_id_file: /r, secret_id_file: /s, secret_id_wrapped: true, secret_id_wrapping_path: auth/approle/role/patas/secret-id, remove_secret_id_file_after_reading: true, token_sink: {path: /run/patas/vault-token, mode: "0440"}}}`, nil},
		{"wrapped without approle", "development", `{type: vault, auth: {method: kubernetes, role: r, secret_id_wrapped: true}}`,
			[]string{"backends.vault.auth.secret_id_wrapped: applies only to auth method approle"}},
		{"wrapped without secret_id_file", "development", `{type: vault, auth: {method: approle, role_id_file: /r, remove_secret_id_file_after_reading: true}}`,
			[]string{"backends.vault.auth.remove_secret_id_file_after_reading: needs secret_id_file"}},
		{"wrapping path without wrapped", "development", `{type: vault, auth: {method: approle, role_id_file: /r, secret_id_file: /s, secret_id_wrapping_path: x}}`,
			[]string{"backends.vault.auth.secret_id_wrapping_path: needs secret_id_wrapped: true"}},
		{"token sink without path, bad mode", "development", `{type: vault, auth: {token_sink: {mode: "999"}}}`,
			[]string{"backends.vault.auth.token_sink.path: required", `backends.vault.auth.token_sink.mode: "999" is not an octal`}},
		{"http in production", "production", `{type: vault, address: "http://vault:8200"}`,
			[]string{"backends.vault.address: address is http://vault:8200", "allow_insecure"}},
		{"skip verify in production", "production", `{type: vault, address: "https://vault:8200", tls_skip_verify: true}`,
			[]string{"backends.vault.tls_skip_verify: TLS verification is disabled"}},
		{"http in production, explicitly allowed", "production", `{type: vault, address: "http://vault:8200", allow_insecure: true}`, nil},
		{"address without scheme", "development", `{type: vault, address: "vault:8200"}`,
			[]string{"backends.vault.address"}},
		{"client cert without key", "development", `{type: vault, client_cert: /c}`,
			[]string{"client_cert and client_key go together"}},
		{"unknown field", "development", `{type: vault, adress: "https://vault:8200"}`,
			[]string{"adress"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("VAULT_ADDR", "")
			t.Setenv("VAULT_SKIP_VERIFY", "")
			_, err := Parse([]byte(base(tt.env, tt.yaml)), t.TempDir(), testBackends)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want a valid config", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got a valid config, want problems %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v\nwant a problem containing %q", err, w)
				}
			}
		})
	}
}

func TestVaultProductionChecksVaultAddr(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://vault:8200")
	t.Setenv("VAULT_SKIP_VERIFY", "")
	_, err := Parse([]byte(`environment: production
backends: {vault: {type: vault}}
secrets: [{env: A, ref: "vault:secret/a#a"}]
outputs: [{format: dotenv, path: out.env}]
`), t.TempDir(), testBackends)
	if err == nil || !strings.Contains(err.Error(), "VAULT_ADDR is http://vault:8200") {
		t.Errorf("got %v, want a problem naming VAULT_ADDR", err)
	}
}
