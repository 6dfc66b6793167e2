package config

import (
	"strings"
	"testing"
)

func gcpConfig(env, backend, secrets string) string {
	return "environment: " + env + "\nbackends:\n  gcp: " + backend + "\nsecrets:\n" + secrets +
		"outputs: [{format: dotenv, path: /run/patas/secrets.env}]\n"
}

func TestGCPBackend(t *testing.T) {
	const short = "  - {env: LLM_API_KEY, ref: gcp:patas-llm-api-key}\n"
	tests := []struct {
		name, env, backend, secrets string
		want                        string // "" = valid; else a substring of the problems
	}{
		{"project and short ref", "production", "{type: gcp, project: my-project}", short, ""},
		{"full names need no project", "production", "{type: gcp}",
			"  - {env: A, ref: 'gcp:projects/my-project/secrets/a/versions/3'}\n  - {env: B, template: '{{ secret \"gcp:projects/p/secrets/b\" }}'}\n", ""},
		{"regional", "production", "{type: gcp, project: p, location: europe-west1}",
			short + "  - {env: B, ref: 'gcp:projects/p/locations/europe-west1/secrets/b'}\n", ""},
		{"private endpoint", "production", "{type: gcp, project: p, endpoint: 'private.googleapis.com:443'}", short, ""},
		{"loopback test server", "test", "{type: gcp, project: p, endpoint: '127.0.0.1:9090', insecure: true}", short, ""},
		{"short ref without project", "production", "{type: gcp}", short, "secrets[0].ref: gcp:patas-llm-api-key: the short form needs project on backends.gcp"},
		{"short ref in a template without project", "production", "{type: gcp}",
			"  - {env: A, template: '{{ secret \"gcp:db\" }}'}\n", "secrets[0].template: gcp:db: the short form needs project"},
		{"regional name on a global backend", "production", "{type: gcp, project: p}",
			"  - {env: B, ref: 'gcp:projects/p/locations/us-east1/secrets/b'}\n", "needs location: us-east1 on backends.gcp"},
		{"global name on a regional backend", "production", "{type: gcp, project: p, location: us-east1}",
			"  - {env: B, ref: 'gcp:projects/p/secrets/b'}\n", "a global secret cannot be read through backends.gcp"},
		{"bad project", "production", "{type: gcp, project: My_Project}", short, "backends.gcp.project"},
		{"project of 63 characters", "production", "{type: gcp, project: " + strings.Repeat("p", 63) + "}", short, ""},
		{"project of 64 characters", "production", "{type: gcp, project: " + strings.Repeat("p", 64) + "}", short, "backends.gcp.project"},
		{"bad location", "production", "{type: gcp, project: p, location: Europe}", short, "backends.gcp.location"},
		{"endpoint as URL", "production", "{type: gcp, project: p, endpoint: 'https://x.example:443'}", short, "backends.gcp.endpoint: want host:port"},
		{"insecure in production", "production", "{type: gcp, project: p, endpoint: '127.0.0.1:9090', insecure: true}", short, "refused in production"},
		{"insecure to a remote host", "test", "{type: gcp, project: p, endpoint: '10.1.2.3:443', insecure: true}", short, "needs a loopback endpoint"},
		{"insecure without endpoint", "test", "{type: gcp, project: p, insecure: true}", short, "needs a loopback endpoint"},
		{"unknown field", "test", "{type: gcp, project: p, region: x}", short, "region is not a known field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(gcpConfig(tt.env, tt.backend, tt.secrets)), "/etc/patas", testBackends)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want a valid config", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want a problem containing %q", err, tt.want)
			}
		})
	}
}
