package vault

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestIntegrationWrappedSecretID logs in with a response-wrapped secret_id on the real Vault:
// the file holds the wrapping token `vault write -wrap-ttl=5m …/secret-id` prints; it is
// checked against its creation path, unwrapped once, the file is removed after reading, and
// a later login (after the token is revoked) still works from the unwrapped secret_id.
func TestIntegrationWrappedSecretID(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys="+canaryKey)
	rid, sid := f.appRole("1h", "2h")
	wrapToken := f.v.CLI(t, "write", "-f", "-wrap-ttl=5m", "-field=wrapping_token", "auth/approle/role/patas/secret-id")
	os.WriteFile(sid, []byte(wrapToken), 0o600)

	c := f.client(Auth{Method: MethodAppRole, RoleIDFile: rid, SecretIDFile: sid,
		SecretIDWrapped: true, SecretIDWrappingPath: "auth/approle/role/patas/secret-id", RemoveSecretIDFile: true})
	if s := f.mustFetch(c, "vault:secret/patas"); field(s, "api_keys") != canaryKey {
		t.Fatal("got a different api_keys")
	}
	if _, err := os.Stat(sid); !os.IsNotExist(err) {
		t.Errorf("secret_id_file was not removed after reading: %v", err)
	}
	// The wrapping token is spent: Vault refuses a second unwrap.
	if _, err := f.v.TryCLI(wrapToken, "", "unwrap"); err == nil {
		t.Error("the wrapping token could be unwrapped twice")
	}
	// A new login (every AppRole token revoked) uses the secret_id kept in memory.
	f.write("sys/leases/revoke-prefix/auth/approle/login", nil)
	if s := f.mustFetch(c, "vault:secret/patas"); field(s, "api_keys") != canaryKey {
		t.Error("after revocation: got a different value")
	}
	if n := f.logs.FilterMessage("logged in to vault").Len(); n != 2 {
		t.Errorf("got %d logins, want 2", n)
	}
}

// TestIntegrationTokenSink: the token the backend logs in with lands in the sink file with
// its mode; it works for the app (lookup-self), is renewed in place, and a new login
// rewrites the file.
func TestIntegrationTokenSink(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys="+canaryKey)
	// Renewed at ~2/3 of 8s, a new login after 20s. Shorter TTLs failed on a loaded machine:
	// the first token could expire before the vault CLI had started to look it up.
	rid, sid := f.appRole("8s", "20s")
	sink := filepath.Join(t.TempDir(), "vault-token")
	c := f.client(Auth{Method: MethodAppRole, RoleIDFile: rid, SecretIDFile: sid, TokenSink: &TokenSink{Path: sink, Mode: 0o440, UID: -1, GID: -1}})
	f.mustFetch(c, "vault:secret/patas")
	first, err := os.ReadFile(sink)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(sink); fi.Mode().Perm() != 0o440 {
		t.Errorf("sink mode %v, want 0440", fi.Mode().Perm())
	}
	if _, err := f.v.TryCLI(string(first), "", "token", "lookup"); err != nil {
		t.Errorf("the sink's token does not work for the app: %v", err)
	}
	count := func(msg string) int { return f.logs.FilterMessage(msg).Len() }
	deadline := time.Now().Add(90 * time.Second)
	for count("renewed vault token") < 1 || count("logged in to vault") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d renewals and %d logins, want at least 1 and 2", count("renewed vault token"), count("logged in to vault"))
		}
		time.Sleep(200 * time.Millisecond)
		f.mustFetch(c, "vault:secret/patas")
	}
	now, _ := os.ReadFile(sink)
	if string(now) == string(first) {
		t.Error("the sink still holds the first token after a new login")
	}
	if _, err := f.v.TryCLI(string(now), "", "token", "lookup"); err != nil {
		t.Errorf("the sink's new token does not work: %v", err)
	}
}
