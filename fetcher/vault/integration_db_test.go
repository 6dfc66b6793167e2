package vault

import (
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// databaseEngine configures Vault's database secrets engine on pg with a role patas whose
// credentials live ttl, renewable up to maxTTL.
func (f *fixture) databaseEngine(pg *testenv.Postgres, ttl, maxTTL string) {
	f.t.Helper()
	f.v.CLI(f.t, "secrets", "enable", "database")
	f.write("database/config/pg", map[string]any{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": "postgresql://{{username}}:{{password}}@" + pg.Host + ":" + pg.Port + "/postgres?sslmode=disable",
		"username":       pg.User,
		"password":       pg.Password,
		"allowed_roles":  "patas,static",
	})
	f.write("database/roles/patas", map[string]any{
		"db_name": "pg",
		"creation_statements": []string{
			`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
		},
		"default_ttl": ttl,
		"max_ttl":     maxTTL,
	})
}

// TestIntegrationDatabaseCredentials plays the engine: it reads database/creds/patas again
// at 2/3 of the TTL each read reports, and checks that the credentials log in to PostgreSQL,
// are renewed (same user, still valid past the first expiry), and are replaced by new ones
// while the old ones still work, before max_ttl.
func TestIntegrationDatabaseCredentials(t *testing.T) {
	pg := testenv.StartPostgres(t)
	f := newFixture(t)
	f.databaseEngine(pg, "4s", "14s")
	c := f.client(Auth{TokenFile: f.tokenFile(f.v.Token)})

	login := func(user, pass string) error {
		out, err := pg.TryPSQL(user, pass, "select current_user")
		if err == nil && out != user {
			t.Errorf("logged in as %q, want %q", out, user)
		}
		return err
	}
	first := f.mustFetch(c, "vault:database/creds/patas")
	user1, pass1 := field(first, "username"), field(first, "password")
	if err := login(user1, pass1); err != nil {
		t.Fatalf("the first credentials do not log in: %v", err)
	}
	if again := f.mustFetch(c, "vault:database/creds/patas"); field(again, "username") != user1 || field(again, "password") != pass1 || again.Version != first.Version {
		t.Errorf("a second read before renewal got other credentials, want the same lease")
	}
	if first.TTL <= 0 || first.TTL > 4*time.Second {
		t.Errorf("got TTL %s, want (0, 4s]", first.TTL)
	}

	firstExpiry := time.Now().Add(first.TTL)
	renewedPastExpiry := false
	var user2 string
	deadline := time.Now().Add(14 * time.Second)
	s := first
	for user2 == "" {
		time.Sleep(s.TTL * 2 / 3)
		if time.Now().After(deadline) {
			t.Fatalf("no new credentials before the first lease's max TTL ran out")
		}
		s = f.mustFetch(c, "vault:database/creds/patas")
		switch u := field(s, "username"); {
		case u == user1:
			if err := login(u, field(s, "password")); err != nil {
				t.Fatalf("renewed credentials do not log in: %v", err)
			}
			if time.Now().After(firstExpiry.Add(time.Second)) {
				renewedPastExpiry = true
			}
		default:
			user2 = u
			if err := login(u, field(s, "password")); err != nil {
				t.Fatalf("the new credentials do not log in: %v", err)
			}
			// Issued before max_ttl: the old ones still work at this moment.
			if err := login(user1, pass1); err != nil {
				t.Errorf("the old credentials stopped working before the new ones were issued: %v", err)
			}
		}
	}
	if !renewedPastExpiry {
		t.Errorf("the first lease was not seen renewed past its first expiry")
	}
	if f.logs.FilterMessage("renewed vault lease").Len() == 0 || f.logs.FilterMessageSnippet("near its max TTL").Len() == 0 {
		t.Errorf("want logs of a renewal and of a re-issue near max TTL")
	}
}
