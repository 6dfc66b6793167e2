package vault

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv"
)

// Canary values: planted in Vault, they must never appear in a log line or an error.
const (
	canaryURL = "postgresql://patas:CANARY-db-9f3a1c@db:5432/patas"
	canaryKey = "CANARY-api-key-7d21e0"
)

// fixture is one dev server, a root API client for setting it up, and the observed logs of
// the clients under test.
type fixture struct {
	t    *testing.T
	v    *testenv.Vault
	root *api.Client
	logs *observer.ObservedLogs
	log  *zap.Logger
	errs []error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	v := testenv.StartVault(t)
	cfg := api.DefaultConfig()
	cfg.Address = v.Addr
	root, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(v.Token)
	t.Cleanup(cfg.HttpClient.CloseIdleConnections)
	core, logs := observer.New(zapcore.DebugLevel)
	f := &fixture{t: t, v: v, root: root, logs: logs, log: zap.New(core)}
	t.Cleanup(f.assertNoCanary)
	return f
}

// client opens a Client under test; it is closed when the test ends.
func (f *fixture) client(auth Auth) *Client {
	f.t.Helper()
	c, err := New(Options{Address: f.v.Addr, Auth: auth}, f.log)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// tokenFile writes token to a file for the token method.
func (f *fixture) tokenFile(token string) string {
	p := filepath.Join(f.t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) write(path string, data map[string]any) *api.Secret {
	f.t.Helper()
	s, err := f.root.Logical().Write(path, data)
	if err != nil {
		f.t.Fatalf("writing %s: %v", path, err)
	}
	return s
}

func (f *fixture) fetch(c *Client, r string) (fetcher.Secret, error) {
	s, err := c.Fetch(context.Background(), ref(r))
	if err != nil {
		f.errs = append(f.errs, err)
	}
	return s, err
}

func (f *fixture) mustFetch(c *Client, r string) fetcher.Secret {
	f.t.Helper()
	s, err := f.fetch(c, r)
	if err != nil {
		f.t.Fatalf("fetching %s: %v", r, err)
	}
	return s
}

// assertNoCanary checks every log entry (message and fields, encoded as JSON) and every
// error seen for the canary values.
func (f *fixture) assertNoCanary() {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var texts []string
	for _, e := range f.logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			f.t.Errorf("encoding a log entry: %v", err)
			continue
		}
		texts = append(texts, buf.String())
	}
	for _, err := range f.errs {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, s := range texts {
		for _, c := range []string{canaryURL, canaryKey, "CANARY"} {
			if strings.Contains(s, c) {
				f.t.Errorf("a secret value leaked into a log line or error: %s", s)
			}
		}
	}
}

func field(s fetcher.Secret, k string) string { return string(s.Data[k].Reveal()) }

func TestIntegrationKV(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys=k1", "database_url="+canaryURL)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys="+canaryKey, "database_url="+canaryURL, "llm_api_key=llm")
	c := f.client(Auth{Method: MethodToken, TokenFile: f.tokenFile(f.v.Token)})

	t.Run("v2 latest, as vault kv get reads it", func(t *testing.T) {
		s := f.mustFetch(c, "vault:secret/patas")
		var cli struct {
			Data struct {
				Data     map[string]string `json:"data"`
				Metadata struct {
					Version     int       `json:"version"`
					CreatedTime time.Time `json:"created_time"`
				} `json:"metadata"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(f.v.CLI(t, "kv", "get", "-format=json", "secret/patas")), &cli); err != nil {
			t.Fatal(err)
		}
		if len(s.Data) != len(cli.Data.Data) {
			t.Errorf("got keys %v, want those of vault kv get (%d)", s.Keys(), len(cli.Data.Data))
		}
		for k, w := range cli.Data.Data {
			if field(s, k) != w {
				t.Errorf("field %s differs from vault kv get", k)
			}
		}
		if s.Version != "2" || !s.Created.Equal(cli.Data.Metadata.CreatedTime) {
			t.Errorf("got version %q created %s, want 2 created %s", s.Version, s.Created, cli.Data.Metadata.CreatedTime)
		}
		if s.TTL != 0 {
			t.Errorf("got TTL %s for a KV secret, want 0", s.TTL)
		}
	})
	t.Run("pinned version", func(t *testing.T) {
		s := f.mustFetch(c, "vault:secret/patas@1")
		if field(s, "api_keys") != "k1" || s.Version != "1" {
			t.Errorf("got api_keys=%q version %q, want k1 and 1", field(s, "api_keys"), s.Version)
		}
		if _, ok := s.Data["llm_api_key"]; ok {
			t.Errorf("version 1 has no llm_api_key, got one")
		}
	})
	t.Run("missing version and path", func(t *testing.T) {
		for _, r := range []string{"vault:secret/patas@9", "vault:secret/nope"} {
			if _, err := f.fetch(c, r); !errors.Is(err, fetcher.ErrNotFound) {
				t.Errorf("%s: got %v, want ErrNotFound", r, err)
			}
		}
		// Vault answers 403 for a path under no mount, even to root, so that the mount
		// preflight cannot be used to list mounts; the CLI reports it the same way.
		if _, err := f.fetch(c, "vault:nomount/x"); !errors.Is(err, fetcher.ErrPermission) {
			t.Errorf("nomount/x: got %v, want ErrPermission", err)
		}
	})
	t.Run("deleted version", func(t *testing.T) {
		f.v.CLI(t, "kv", "delete", "-versions=1", "secret/patas")
		_, err := f.fetch(c, "vault:secret/patas@1")
		if !errors.Is(err, fetcher.ErrNotFound) || !strings.Contains(err.Error(), "deleted") {
			t.Errorf("got %v, want ErrNotFound saying deleted", err)
		}
	})
	t.Run("kv v1", func(t *testing.T) {
		f.v.CLI(t, "secrets", "enable", "-path=kv1", "-version=1", "kv")
		f.v.CLI(t, "kv", "put", "kv1/patas", "api_keys="+canaryKey)
		s := f.mustFetch(c, "vault:kv1/patas")
		if field(s, "api_keys") != canaryKey || s.Version != "" {
			t.Errorf("got a different value or version %q, want the v1 value and no version", s.Version)
		}
		if _, err := f.fetch(c, "vault:kv1/patas@1"); err == nil || !strings.Contains(err.Error(), "KV version 1") {
			t.Errorf("@1 on KV v1: got %v, want an error about versions", err)
		}
	})
	t.Run("mount of several segments", func(t *testing.T) {
		f.v.CLI(t, "secrets", "enable", "-path=team/apps", "-version=2", "kv")
		f.v.CLI(t, "kv", "put", "team/apps/patas/prod", "k=v")
		if s := f.mustFetch(c, "vault:team/apps/patas/prod"); field(s, "k") != "v" {
			t.Errorf("got %q, want v", field(s, "k"))
		}
	})
}

func TestIntegrationTokenFromEnvironment(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "k=v")
	t.Setenv("VAULT_ADDR", f.v.Addr)
	t.Setenv("VAULT_TOKEN", f.v.Token)
	c, err := New(Options{}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := f.mustFetch(c, "vault:secret/patas"); field(s, "k") != "v" {
		t.Errorf("got %q, want v", field(s, "k"))
	}
}

func TestIntegrationPermissionDenied(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys="+canaryKey)
	f.write("sys/policy/only-other", map[string]any{"policy": `path "secret/data/other" { capabilities = ["read"] }`})
	tok := f.write("auth/token/create", map[string]any{"policies": []string{"only-other"}, "ttl": "1h"}).Auth.ClientToken
	c := f.client(Auth{TokenFile: f.tokenFile(tok)})

	_, err := f.fetch(c, "vault:secret/patas")
	if !errors.Is(err, fetcher.ErrPermission) {
		t.Fatalf("policy denies: got %v, want ErrPermission", err)
	}
	if !strings.Contains(err.Error(), "403") {
		t.Errorf("got %q, want it to say 403", err)
	}

	f.write("auth/token/revoke", map[string]any{"token": tok})
	if _, err := f.fetch(c, "vault:secret/other"); !errors.Is(err, fetcher.ErrPermission) {
		t.Errorf("revoked token: got %v, want ErrPermission", err)
	}

	// Nothing listens: a network error, not an auth failure.
	t.Setenv("VAULT_MAX_RETRIES", "0")
	down, err := New(Options{Address: "http://" + testenv.FreeAddr(t), Auth: Auth{TokenFile: f.tokenFile("x")}}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	_, err = f.fetch(down, "vault:secret/patas")
	if err == nil || errors.Is(err, fetcher.ErrPermission) || errors.Is(err, fetcher.ErrNotFound) {
		t.Errorf("server down: got %v, want a plain network error", err)
	}
}

// appRole enables AppRole with a role allowed to read secret/data/patas and returns the
// files holding its role_id and a secret_id.
func (f *fixture) appRole(tokenTTL, tokenMaxTTL string) (roleIDFile, secretIDFile string) {
	f.t.Helper()
	f.v.CLI(f.t, "auth", "enable", "approle")
	f.write("sys/policy/patas-read", map[string]any{"policy": `
path "secret/data/patas" { capabilities = ["read"] }
path "database/creds/patas" { capabilities = ["read"] }`})
	f.write("auth/approle/role/patas", map[string]any{
		"token_policies": []string{"patas-read"}, "token_ttl": tokenTTL, "token_max_ttl": tokenMaxTTL,
	})
	roleID := f.v.CLI(f.t, "read", "-field=role_id", "auth/approle/role/patas/role-id")
	secretID := f.v.CLI(f.t, "write", "-f", "-field=secret_id", "auth/approle/role/patas/secret-id")
	dir := f.t.TempDir()
	roleIDFile, secretIDFile = filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	_ = os.WriteFile(roleIDFile, []byte(roleID), 0o600)
	_ = os.WriteFile(secretIDFile, []byte(secretID), 0o600)
	return roleIDFile, secretIDFile
}

func TestIntegrationAppRole(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys="+canaryKey)
	rid, sid := f.appRole("1h", "2h")
	c := f.client(Auth{Method: MethodAppRole, RoleIDFile: rid, SecretIDFile: sid})
	if s := f.mustFetch(c, "vault:secret/patas"); field(s, "api_keys") != canaryKey {
		t.Errorf("got a different api_keys")
	}

	bad := filepath.Join(t.TempDir(), "bad")
	_ = os.WriteFile(bad, []byte("not-a-secret-id"), 0o600)
	wrong := f.client(Auth{Method: MethodAppRole, RoleIDFile: rid, SecretIDFile: bad})
	if _, err := f.fetch(wrong, "vault:secret/patas"); !errors.Is(err, fetcher.ErrPermission) {
		t.Errorf("wrong secret_id: got %v, want ErrPermission", err)
	}
}

func TestIntegrationTokenRenewalAndRelogin(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys="+canaryKey)
	// A 3s token that can be renewed up to 9s: renewals at ~2s, then a new login.
	rid, sid := f.appRole("3s", "9s")
	c := f.client(Auth{Method: MethodAppRole, RoleIDFile: rid, SecretIDFile: sid})
	f.mustFetch(c, "vault:secret/patas")

	count := func(msg string) int { return f.logs.FilterMessage(msg).Len() }
	deadline := time.Now().Add(45 * time.Second)
	for count("renewed vault token") < 1 || count("logged in to vault") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d renewals and %d logins, want at least 1 and 2", count("renewed vault token"), count("logged in to vault"))
		}
		time.Sleep(200 * time.Millisecond)
		f.mustFetch(c, "vault:secret/patas") // the token is usable all along
	}

	// Revoke every token AppRole has issued: the next read logs in again.
	logins := count("logged in to vault")
	f.write("sys/leases/revoke-prefix/auth/approle/login", nil)
	if s := f.mustFetch(c, "vault:secret/patas"); field(s, "api_keys") != canaryKey {
		t.Errorf("after revocation: got a different value")
	}
	if count("logged in to vault") <= logins || f.logs.FilterMessageSnippet("rejected").Len() == 0 {
		t.Errorf("after revocation: want a log of the rejected token and a new login, got %d logins (had %d)", count("logged in to vault"), logins)
	}
}

// seedPatas writes secret/patas and a policy patas-read that may read it, and returns an
// RSA key for signing test JWTs.
func (f *fixture) seedPatas() *rsa.PrivateKey {
	f.t.Helper()
	f.v.CLI(f.t, "kv", "put", "secret/patas", "api_keys="+canaryKey)
	f.write("sys/policy/patas-read", map[string]any{"policy": `path "secret/data/patas" { capabilities = ["read"] }`})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.t.Fatal(err)
	}
	return key
}

func TestIntegrationJWT(t *testing.T) {
	f := newFixture(t)
	key := f.seedPatas()
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	f.v.CLI(t, "auth", "enable", "jwt")
	f.write("auth/jwt/config", map[string]any{
		"jwt_validation_pubkeys": []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))},
		"bound_issuer":           "https://ci.example",
	})
	f.write("auth/jwt/role/patas", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"patas"},
		"token_policies": []string{"patas-read"}, "token_ttl": "1h",
	})
	jwtFile := func(aud string) string {
		now := time.Now()
		tok := signRS256(t, key, map[string]any{
			"iss": "https://ci.example", "sub": "deploy", "aud": aud,
			"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		})
		p := filepath.Join(t.TempDir(), "jwt")
		_ = os.WriteFile(p, []byte(tok), 0o600)
		return p
	}
	c := f.client(Auth{Method: MethodJWT, Role: "patas", JWTFile: jwtFile("patas")})
	if s := f.mustFetch(c, "vault:secret/patas"); field(s, "api_keys") != canaryKey {
		t.Errorf("got a different api_keys")
	}
	wrong := f.client(Auth{Method: MethodJWT, Role: "patas", JWTFile: jwtFile("someone-else")})
	if _, err := f.fetch(wrong, "vault:secret/patas"); !errors.Is(err, fetcher.ErrPermission) {
		t.Errorf("wrong audience: got %v, want ErrPermission", err)
	}
}

// signRS256 makes a compact JWS (RFC 7515) of claims.
func signRS256(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
