package config

import (
	"context"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

// TestRefCheckedByItsBackend: config reports a ref error found by the backend's own parse,
// at the entry's path; for the file backend the same parse refuses the ref at Fetch with
// the same words, so config and Fetch cannot disagree.
func TestRefCheckedByItsBackend(t *testing.T) {
	backends := "backends:\n  f: {type: file, dir: d}\n  v: {type: vault, address: 'https://vault:8200'}\n  a: {type: aws}\n  g: {type: gcp, project: p}\n"
	tests := []struct{ ref, want string }{
		{"f:a@2", "secrets[0].ref: f:a@2: files have no versions; drop @2"},
		{"f:../etc/passwd", `secrets[0].ref: f:../etc/passwd: path "../etc/passwd" must name a file inside the backend's dir`},
		{"v:secret/a@latest", `secrets[0].ref: v:secret/a@latest: version "latest": want a version number`},
		{"v:/", "secrets[0].ref: v:/: empty path"},
		{"a:arn:gcp:x", `secrets[0].ref: a:arn:gcp:x: "arn:gcp:x" is not a Secrets Manager ARN`},
		{"g:db.password", `secrets[0].ref: g:db.password: secret id "db.password" may hold only letters`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			yaml := backends + "secrets: [{env: A, ref: '" + tt.ref + "'}]\noutputs: [{format: dotenv, path: o.env}]\n"
			c, err := Parse([]byte(yaml), t.TempDir(), testBackends)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a problem containing %q", err, tt.want)
			}
			r, perr := fetcher.ParseRef(tt.ref)
			if perr != nil || r.Backend != "f" {
				return
			}
			b, err := c.Backends["f"].Settings.Open(context.Background(), c.BackendEnv("f", nil))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			_, ferr := b.Fetch(context.Background(), r)
			msg := tt.want[strings.Index(tt.want, tt.ref+": "):]
			if ferr == nil || !strings.Contains(ferr.Error(), msg) {
				t.Errorf("Fetch: got %v, want the config's words %q", ferr, msg)
			}
		})
	}
}
