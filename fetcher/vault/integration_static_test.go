package vault

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv"
)

// staticRole adds to the database engine (see databaseEngine) a static role "static" on the
// PostgreSQL user patas_static, whose password Vault rotates every rotationPeriod.
func (f *fixture) staticRole(pg *testenv.Postgres, rotationPeriod string) {
	f.t.Helper()
	if _, err := pg.TryPSQL(pg.User, pg.Password, `CREATE ROLE patas_static WITH LOGIN PASSWORD 'not-yet-rotated'`); err != nil {
		f.t.Fatalf("creating the static user: %v", err)
	}
	f.write("database/static-roles/static", map[string]any{
		"db_name":             "pg",
		"username":            "patas_static",
		"rotation_period":     rotationPeriod,
		"rotation_statements": []string{`ALTER USER "{{name}}" WITH PASSWORD '{{password}}';`},
	})
}

// TestIntegrationDatabaseStaticRoleRotatesIn: a static role's answer has no lease; the
// Secret's RotatesIn is the answer's ttl (seconds to Vault's next rotation), TTL stays 0,
// and a read just after that time gets a new password that logs in while the old one
// no longer does.
func TestIntegrationDatabaseStaticRoleRotatesIn(t *testing.T) {
	pg := testenv.StartPostgres(t)
	f := newFixture(t)
	f.databaseEngine(pg, "1m", "5m")
	f.staticRole(pg, "5s")
	c := f.client(Auth{TokenFile: f.tokenFile(f.v.Token)})

	first := f.mustFetch(c, "vault:database/static-creds/static")
	ttl, err := strconv.Atoi(field(first, "ttl"))
	if err != nil {
		t.Fatalf("the answer's ttl field is %q: %v", field(first, "ttl"), err)
	}
	if want := max(time.Duration(ttl)*time.Second, time.Second); first.RotatesIn != want || first.RotatesIn > 5*time.Second {
		t.Errorf("RotatesIn = %s, want the answer's ttl %ds (at most the 5s rotation period)", first.RotatesIn, ttl)
	}
	if first.TTL != 0 || field(first, "last_vault_rotation") == "" || field(first, "username") != "patas_static" {
		t.Errorf("want no lease TTL (got %s), a last_vault_rotation and username patas_static", first.TTL)
	}
	pass1 := field(first, "password")
	if _, err := pg.TryPSQL("patas_static", pass1, "select 1"); err != nil {
		t.Fatalf("the static password does not log in: %v", err)
	}

	// Read as the engine schedules it: just after each announced rotation.
	deadline := time.Now().Add(30 * time.Second)
	s := first
	for field(s, "password") == pass1 {
		if time.Now().After(deadline) {
			t.Fatalf("the password did not change within 30s of a 5s rotation period")
		}
		time.Sleep(s.RotatesIn + time.Second)
		s = f.mustFetch(c, "vault:database/static-creds/static")
		if s.RotatesIn <= 0 {
			t.Fatalf("a static-creds answer without RotatesIn (ttl field %q)", field(s, "ttl"))
		}
	}
	if _, err := pg.TryPSQL("patas_static", field(s, "password"), "select 1"); err != nil {
		t.Errorf("the rotated password does not log in: %v", err)
	}
	if _, err := pg.TryPSQL("patas_static", pass1, "select 1"); err == nil {
		t.Errorf("the password from before the rotation still logs in")
	}
}

// TestIntegrationRunPicksUpStaticRotation: with a refresh interval of 1h, only the static
// role's announced rotation schedules a refresh, and the output gets the rotated password
// shortly after Vault rotates it.
func TestIntegrationRunPicksUpStaticRotation(t *testing.T) {
	pg := testenv.StartPostgres(t)
	f := newFixture(t)
	f.databaseEngine(pg, "1m", "5m")
	f.staticRole(pg, "5s")
	c := f.client(Auth{TokenFile: f.tokenFile(f.v.Token)})
	out := f.runEngine(t.TempDir(), `
backends:
  vault: {type: vault, address: "`+f.v.Addr+`"}
secrets:
  - {env: PGPASSWORD, ref: "vault:database/static-creds/static#password"}
outputs: [{format: dotenv, path: out/secrets.env}]
refresh: {interval: 1h}
`, map[string]fetcher.Backend{"vault": c})

	passRE := regexp.MustCompile(`PGPASSWORD='([^']+)'`)
	first := waitOutput(t, out, passRE, 30*time.Second)[1]
	if first == "not-yet-rotated" {
		t.Fatalf("the output holds the password from before Vault managed the user")
	}
	// Vault rotates every 5s (its queue checks every few seconds); the interval is 1h, so
	// a new password within 30s comes from the rotation schedule.
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := waitOutput(t, out, passRE, 30*time.Second)
		if m[1] != first {
			if _, err := pg.TryPSQL("patas_static", m[1], "select 1"); err != nil {
				t.Errorf("the rotated password in the output does not log in: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PGPASSWORD still holds the first password 30s later (rotation period 5s)")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if f.logs.FilterFieldKey("rotates_in").Len() == 0 {
		t.Errorf("no audit log carried rotates_in")
	}
}
