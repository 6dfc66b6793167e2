package vault

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/testenv"
)

// runEngine parses yaml (relative paths under dir), runs the engine over backends until the
// test ends, and returns the path of its dotenv output.
func (f *fixture) runEngine(dir, yaml string, backends map[string]fetcher.Backend) string {
	f.t.Helper()
	cfg, err := config.Parse([]byte(yaml), dir, registry.New([]registry.Type{Type, file.Type}, nil))
	if err != nil {
		f.t.Fatal(err)
	}
	e, err := engine.New(cfg, backends, f.log)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, nil) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("Run: %v", err)
		}
	})
	return filepath.Join(dir, "out", "secrets.env")
}

// waitOutput polls the output file until it matches re, and returns the submatches.
func waitOutput(t *testing.T, path string, re *regexp.Regexp, limit time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b, _ := os.ReadFile(path)
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the output to match %s", re)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationRunPicksUpNewKVVersion: a `vault kv put` while Run is going reaches the
// output at the next interval.
func TestIntegrationRunPicksUpNewKVVersion(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys=first-keys", "llm_api_key=llm-1")
	dir := t.TempDir()
	c := f.client(Auth{TokenFile: f.tokenFile(f.v.Token)})
	out := f.runEngine(dir, `
backends:
  vault: {type: vault, address: "`+f.v.Addr+`"}
secrets:
  - {env: API_KEYS, ref: "vault:secret/patas#api_keys"}
  - {env: LLM_API_KEY, ref: "vault:secret/patas#llm_api_key"}
outputs: [{format: dotenv, path: out/secrets.env}]
refresh: {interval: 1s, jitter: 10%}
`, map[string]fetcher.Backend{"vault": c})
	waitOutput(t, out, regexp.MustCompile(`API_KEYS='first-keys'`), 30*time.Second)

	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys=second-keys", "llm_api_key=llm-2")
	waitOutput(t, out, regexp.MustCompile(`API_KEYS='second-keys'\nLLM_API_KEY='llm-2'`), 30*time.Second)
}

// TestIntegrationRunDatabaseURLFromOneLease: DATABASE_URL is composed from a lease's
// username and password; it logs in to PostgreSQL, and when the lease is replaced before
// max_ttl the new URL (again one lease's pair) logs in too.
func TestIntegrationRunDatabaseURLFromOneLease(t *testing.T) {
	pg := testenv.StartPostgres(t)
	f := newFixture(t)
	f.databaseEngine(pg, "3s", "8s")
	c := f.client(Auth{TokenFile: f.tokenFile(f.v.Token)})
	out := f.runEngine(t.TempDir(), `
backends:
  vault: {type: vault, address: "`+f.v.Addr+`"}
secrets:
  - env: DATABASE_URL
    template: 'postgresql://{{ secret "vault:database/creds/patas#username" }}:{{ secret "vault:database/creds/patas#password" | urlencode }}@db:5432/patas'
outputs: [{format: dotenv, path: out/secrets.env}]
refresh: {interval: 1h}
`, map[string]fetcher.Backend{"vault": c})

	urlRE := regexp.MustCompile(`DATABASE_URL='(postgresql://([^:]+):([^@]+)@db:5432/patas)'`)
	login := func(m []string) {
		t.Helper()
		pass, err := url.QueryUnescape(m[3])
		if err != nil {
			t.Fatal(err)
		}
		if got, err := pg.TryPSQL(m[2], pass, "select current_user"); err != nil || got != m[2] {
			t.Fatalf("the URL's username and password do not log in together: %q, %v", got, err)
		}
	}
	first := waitOutput(t, out, urlRE, 30*time.Second)
	login(first)
	// Nothing but the lease schedules a refresh (interval 1h): a new user appears before
	// the first lease's max TTL of 8s.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := waitOutput(t, out, urlRE, 20*time.Second)
		if m[2] != first[2] {
			login(m)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DATABASE_URL still holds the first lease's user")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
