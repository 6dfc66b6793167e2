package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv"
)

// migrateExamples returns the YAML blocks of docs/migrate.md marked <!-- checked -->.
func migrateExamples(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/migrate.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- checked -->\n```yaml\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if len(out) < 2 {
		t.Fatalf("found %d checked examples in docs/migrate.md, want the guide's and the consul-template one", len(out))
	}
	return out
}

// TestMigrateGuideExamplesAreValid: every config docs/migrate.md offers passes check.
func TestMigrateGuideExamplesAreValid(t *testing.T) {
	for i, cfg := range migrateExamples(t) {
		dir := t.TempDir()
		p := filepath.Join(dir, "config.yaml")
		os.WriteFile(p, []byte(cfg), 0o600)
		if r := runBin(t, nil, "check", "--config", p); r.code != 0 {
			t.Errorf("example %d: check failed: %+v\n%s", i, r, cfg)
		}
	}
}

// TestMigrateGuideExampleOnVault runs the guide's converted example against the real Vault
// dev server: the guide's own `vault kv put secret/patas …`, then once with the example's
// config (token auth in place of the Kubernetes method, which needs a cluster: the
// kubernetes tests cover it), and PATAS's three variables land in the dotenv file.
func TestMigrateGuideExampleOnVault(t *testing.T) {
	v := testenv.StartVault(t)
	v.CLI(t, "kv", "put", "secret/patas",
		"database_url=postgresql+asyncpg://patas:"+templateCanary+"-db@db:5432/patas",
		"api_keys=key1-"+templateCanary+":ns1,key2-"+templateCanary+":ns2",
		"llm_api_key=sk-"+templateCanary+"-llm")
	dir := t.TempDir()
	cfg := migrateExamples(t)[0]
	// The dev server speaks plain http, which production refuses unless allowed.
	cfg = strings.Replace(cfg, "https://vault.vault.svc:8200", v.Addr+"\n    allow_insecure: true", 1)
	cfg = strings.Replace(cfg, "{method: kubernetes, role: patas}", "{method: token}", 1)
	cfg = strings.Replace(cfg, "/run/patas/secrets.env", filepath.Join(dir, "secrets.env"), 1)
	p := filepath.Join(dir, "config.yaml")
	os.WriteFile(p, []byte(cfg), 0o600)
	r := runBin(t, []string{"VAULT_TOKEN=" + v.Token}, "once", "--config", p)
	if r.code != 0 {
		t.Fatalf("once: %+v\n%s", r, cfg)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "secrets.env"))
	for _, want := range []string{"DATABASE_URL='postgresql+asyncpg://patas:" + templateCanary + "-db@db:5432/patas'",
		"API_KEYS='key1-" + templateCanary + ":ns1,key2-" + templateCanary + ":ns2'", "LLM_API_KEY='sk-" + templateCanary + "-llm'"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("secrets.env lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(r.stderr, templateCanary) {
		t.Errorf("a value was logged:\n%s", r.stderr)
	}
}
