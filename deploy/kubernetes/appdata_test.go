package kubernetes_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// The app's secrets by generation. Generation 2 adds a key to API_KEYS (an overlap window, as
// a real rotation does), so that the client keeps key 1 throughout and key 2 tells when an
// app has the new generation.
const (
	clientKey = "canary-key-1"
	newKey    = "canary-key-2"
	dbUser    = "patas"
)

func apiKeys(generation int) string {
	if generation < 2 {
		return clientKey + ":tenant"
	}
	return clientKey + ":tenant," + newKey + ":tenant"
}

// appDatabase starts a real PostgreSQL with the role patas and returns the DATABASE_URL the
// pods use (through a TCP front on the bridge).
func appDatabase(t *testing.T) string {
	t.Helper()
	pg := testenv.StartPostgres(t)
	password := "canary-db-" + fmt.Sprint(len(t.Name()))
	if out, err := pg.TryPSQL(pg.User, pg.Password, "CREATE ROLE "+dbUser+" LOGIN PASSWORD '"+password+"'"); err != nil {
		t.Fatalf("create role: %v: %s", err, out)
	}
	f := startFront(t, net.JoinHostPort(pg.Host, pg.Port), false)
	return fmt.Sprintf("postgresql+asyncpg://%s:%s@%s/postgres", dbUser, password, f.Addr)
}

// checkApp: the app accepts the client's key and reaches PostgreSQL as patas, so it read
// API_KEYS and DATABASE_URL from the env file.
func checkApp(t *testing.T, ip string) whoami {
	t.Helper()
	w, _ := waitKey(t, ip, clientKey, 2*time.Minute)
	if w.DBUser != dbUser || w.Namespace != "tenant" {
		t.Errorf("app at %s: got %+v, want namespace tenant and db_user %s", ip, w, dbUser)
	}
	return w
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
