package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestTemplateOutputFromVault renders a template output from the real Vault dev server:
// two keys of one KV v2 secret, read once, into a PgBouncer userlist with its own mode.
func TestTemplateOutputFromVault(t *testing.T) {
	v := testenv.StartVault(t)
	v.CLI(t, "kv", "put", "secret/patas", "db_user=patas", "db_password="+templateCanary+"-vault")
	config := `backends: {vault: {type: vault, address: ` + v.Addr + `, auth: {method: token}}}
outputs:
  - {format: template, template: templates/userlist.tmpl, path: out/userlist.txt, mode: "0400"}
listen: "off"
`
	dir := templateProject(t, config, nil, map[string]string{
		"userlist.tmpl": `"{{ secret "vault:secret/patas#db_user" }}" "{{ secret "vault:secret/patas#db_password" | base64Encode | base64Decode }}"` + "\n",
	})
	r := runBin(t, []string{"VAULT_TOKEN=" + v.Token}, "once", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != 0 {
		t.Fatalf("once: %+v", r)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "userlist.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"patas" "` + templateCanary + `-vault"` + "\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "out", "userlist.txt")); fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %v, want 0400", fi.Mode().Perm())
	}
	if n := strings.Count(r.stderr, `"ref":"vault:secret/patas"`); n != 1 {
		t.Errorf("secret/patas read %d times, want once:\n%s", n, r.stderr)
	}
	if strings.Contains(r.stderr, templateCanary) {
		t.Errorf("the canary was logged:\n%s", r.stderr)
	}
}
