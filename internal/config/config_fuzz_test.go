package config

import (
	"strings"
	"testing"
)

// FuzzParse: the strict decoder and Validate never panic, whatever the YAML, and an
// accepted config has its defaults applied.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"secrets: []",
		`environment: production
backends:
  vault:   {type: vault, address: https://vault:8200, auth: {method: kubernetes, role: patas}}
  aws:     {type: aws, region: eu-west-1}
  gcp:     {type: gcp, project: my-project}
  swarm:   {type: file, dir: /run/secrets}
secrets:
  - {env: API_KEYS, ref: "vault:secret/patas#api_keys", overlap: 1h}
  - {ref: "aws:patas/production", expand: true, prefix: APP_}
  - env: DATABASE_URL
    template: 'postgresql+asyncpg://patas:{{ secret "swarm:db_password" | urlencode }}@db:5432/patas'
  - {env: EMBEDDING_API_KEY, ref: "gcp:patas-embedding-api-key", optional: true, fallback: LLM_API_KEY}
outputs:
  - {format: dotenv, path: /run/patas/secrets.env, mode: "0440", uid: 1000}
  - {format: files,  path: /run/patas/secrets/}
refresh: {interval: 5m, jitter: 10%, watch: true, max_staleness: 1h}
notify:  {signal: {pidfile: /run/patas/app.pid, signal: SIGHUP}, debounce: 2s}
listen: 127.0.0.1:9102
validate: {profile: patas, required: [DATABASE_URL]}
hygiene: {max_age: 90d, min_length: 16}
`,
		"backends: {f: {type: file, dir: x}}\nsecrets: [{env: A, ref: 'f:a'}]\noutputs: [{format: json, path: o, mode: 0440}]",
		"refresh: {interval: -1s, jitter: 200%, max_staleness: 1d}",
		"secrets: [{env: A, template: '{{ secret \"f:a\" }}{{ .x }}'}]",
		"&a [*a]", "a: !!binary xyz", "{{{", "outputs: [{mode: \"9999\"}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "/etc/patas", testBackends)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("an empty error message")
			}
			return
		}
		if cfg.Refresh.Interval <= 0 || cfg.Refresh.MaxStaleness < cfg.Refresh.Interval || cfg.Listen == "" {
			t.Fatalf("accepted config without its defaults: refresh %+v, listen %q", cfg.Refresh, cfg.Listen)
		}
	})
}
