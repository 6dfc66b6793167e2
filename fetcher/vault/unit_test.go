package vault

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ref(s string) fetcher.Ref {
	r, err := fetcher.ParseRef(s)
	if err != nil {
		panic(err)
	}
	return r.Source()
}

func TestFetchErrors(t *testing.T) {
	netErr := &url.Error{Op: "Get", URL: "http://vault:8200/v1/x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}
	tests := []struct {
		name     string
		setup    func(f *fakeVault)
		login    func() (loginRequest, error)
		ref      string
		wantPerm bool
		wantNF   bool
		wantText string
	}{
		{
			name: "network error is neither permission nor not found",
			setup: func(f *fakeVault) {
				f.on("auth/token/lookup-self", func(fakeCall) (*api.Secret, error) { return nil, netErr })
			},
			ref:      "v:secret/patas",
			wantText: "connection refused",
		},
		{
			name: "server error 500",
			setup: func(f *fakeVault) {
				f.on("auth/token/lookup-self", lookupOK("root-token"))
				f.on("sys/internal/ui/mounts/secret/patas", kvV2Mount("secret/"))
				f.on("secret/data/patas", func(fakeCall) (*api.Secret, error) { return nil, status(500, "internal error") })
			},
			ref:      "v:secret/patas",
			wantText: "vault answered 500: internal error",
		},
		{
			name:     "token rejected",
			setup:    func(f *fakeVault) { f.on("auth/token/lookup-self", lookupOK()) },
			ref:      "v:secret/patas",
			wantPerm: true,
		},
		{
			name: "approle login refused with 400 is an auth failure",
			setup: func(f *fakeVault) {
				f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) { return nil, status(400, "invalid role or secret ID") })
			},
			login:    appRoleLogin,
			ref:      "v:secret/patas",
			wantPerm: true,
			wantText: "invalid role or secret ID",
		},
		{
			name: "login answer without a token",
			setup: func(f *fakeVault) {
				f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) { return &api.Secret{}, nil })
			},
			login:    appRoleLogin,
			ref:      "v:secret/patas",
			wantText: "holds no token",
		},
		{
			name: "policy denies the path: permission, no new login",
			setup: func(f *fakeVault) {
				f.on("auth/token/lookup-self", lookupOK("root-token"))
				f.on("sys/internal/ui/mounts/secret/patas", func(fakeCall) (*api.Secret, error) { return nil, denied() })
			},
			ref:      "v:secret/patas",
			wantPerm: true,
		},
		{
			name: "destroyed version",
			setup: func(f *fakeVault) {
				f.on("auth/token/lookup-self", lookupOK("root-token"))
				f.on("sys/internal/ui/mounts/secret/patas", kvV2Mount("secret/"))
				f.on("secret/data/patas", func(c fakeCall) (*api.Secret, error) {
					return &api.Secret{Data: map[string]any{"data": nil, "metadata": map[string]any{"version": json.Number("3"), "destroyed": true}}}, nil
				})
			},
			ref:      "v:secret/patas@3",
			wantNF:   true,
			wantText: "version 3 was destroyed",
		},
		{
			name: "missing secret",
			setup: func(f *fakeVault) {
				f.on("auth/token/lookup-self", lookupOK("root-token"))
				f.on("sys/internal/ui/mounts/secret/nope", kvV2Mount("secret/"))
			},
			ref:    "v:secret/nope",
			wantNF: true,
		},
		{
			name:     "version that is not a number",
			setup:    func(f *fakeVault) {},
			ref:      "v:secret/patas@latest",
			wantText: "want a version number",
		},
		{
			name: "version on a KV v1 mount",
			setup: func(f *fakeVault) {
				f.on("auth/token/lookup-self", lookupOK("root-token"))
				f.on("sys/internal/ui/mounts/kv/app", engineMount("kv/", "kv"))
			},
			ref:      "v:kv/app@2",
			wantText: "KV version 1",
		},
		{
			name: "version on a dynamic secret",
			setup: func(f *fakeVault) {
				f.on("auth/token/lookup-self", lookupOK("root-token"))
				f.on("sys/internal/ui/mounts/database/creds/patas", engineMount("database/", "database"))
			},
			ref:      "v:database/creds/patas@2",
			wantText: "KV version 2 only",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			tt.setup(f)
			c, _ := fakeClient(t, f, tt.login)
			_, err := c.Fetch(context.Background(), ref(tt.ref))
			if err == nil {
				t.Fatal("got no error")
			}
			if got := errors.Is(err, fetcher.ErrPermission); got != tt.wantPerm {
				t.Errorf("errors.Is(ErrPermission) = %v, want %v (err: %v)", got, tt.wantPerm, err)
			}
			if got := errors.Is(err, fetcher.ErrNotFound); got != tt.wantNF {
				t.Errorf("errors.Is(ErrNotFound) = %v, want %v (err: %v)", got, tt.wantNF, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantText)
			}
			if !strings.Contains(err.Error(), tt.ref[2:]) {
				t.Errorf("got error %q, want it to name the ref", err)
			}
			if tt.name == "policy denies the path: permission, no new login" && f.count("auth/token/lookup-self") != 2 {
				t.Errorf("got %d token lookups, want 2 (adopt, then check after the 403)", f.count("auth/token/lookup-self"))
			}
		})
	}
}

func TestOldVaultWithoutPreflightReadsKVv1(t *testing.T) {
	f := newFake()
	f.on("auth/token/lookup-self", lookupOK("root-token"))
	// sys/internal/ui/mounts/... has no handler: 404, as from a Vault older than 0.10.
	f.on("secret/patas", func(fakeCall) (*api.Secret, error) {
		return &api.Secret{Data: map[string]any{"a": "1", "n": json.Number("42"), "b": true, "o": map[string]any{"x": "y"}, "z": nil}}, nil
	})
	c, _ := fakeClient(t, f, nil)
	s, err := c.Fetch(context.Background(), ref("v:secret/patas"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "n": "42", "b": "true", "o": `{"x":"y"}`, "z": ""}
	for k, w := range want {
		if got := string(s.Data[k].Reveal()); got != w {
			t.Errorf("field %s: got %q, want %q", k, got, w)
		}
	}
}

func TestKVv2PathUnderNamespacedMount(t *testing.T) {
	tests := []struct{ path, mount, want string }{
		{"secret/patas", "secret/", "secret/data/patas"},
		{"team/kv/app/db", "team/kv/", "team/kv/data/app/db"},
		{"secret", "secret/", "secret/data"},
		// A mount path reported with the namespace the path lacks (CLI behaviour).
		{"secret/patas", "ns1/secret/", "secret/data/patas"},
	}
	for _, tt := range tests {
		if got := kvV2Path(tt.path, tt.mount, "data"); got != tt.want {
			t.Errorf("kvV2Path(%q, %q): got %q, want %q", tt.path, tt.mount, got, tt.want)
		}
	}
}

func TestRevokedTokenLogsInAgainAndRetries(t *testing.T) {
	f := newFake()
	logins := 0
	f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) {
		logins++
		return loginAnswer([]string{"", "t1", "t2"}[min(logins, 2)], 3600, true), nil
	})
	f.on("auth/token/lookup-self", lookupOK("t2"))
	f.on("sys/internal/ui/mounts/secret/patas", kvV2Mount("secret/"))
	f.on("secret/data/patas", func(c fakeCall) (*api.Secret, error) {
		if c.token != "t2" {
			return nil, denied() // t1 was revoked
		}
		return kvV2Data(1, map[string]any{"k": "v"})(c)
	})
	c, logs := fakeClient(t, f, appRoleLogin)
	s, err := c.Fetch(context.Background(), ref("v:secret/patas"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Data["k"].Reveal()); got != "v" {
		t.Errorf("got %q, want v", got)
	}
	if logins != 2 {
		t.Errorf("got %d logins, want 2", logins)
	}
	if logs.FilterMessageSnippet("logging in again").Len() != 1 {
		t.Errorf("want one log line about logging in again, got %v", logs.All())
	}
}

func TestTokenFileChangeIsPickedUp(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("tok-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFake()
	f.on("auth/token/lookup-self", lookupOK("tok-a", "tok-b"))
	f.on("sys/internal/ui/mounts/secret/patas", kvV2Mount("secret/"))
	var seen []string
	f.on("secret/data/patas", func(c fakeCall) (*api.Secret, error) {
		seen = append(seen, c.token)
		return kvV2Data(1, map[string]any{"k": "v"})(c)
	})
	a := &authenticator{tokenFile: file}
	c := newClient(f, a, nil)
	defer c.Close()
	for _, tok := range []string{"tok-a", "tok-b"} {
		if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(context.Background(), ref("v:secret/patas")); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(seen, ",") != "tok-a,tok-b" {
		t.Errorf("got tokens %v, want tok-a then tok-b", seen)
	}
}

func TestTokenRenewedThenReloginWhenRefused(t *testing.T) {
	f := newFake()
	logins := 0
	f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) {
		logins++
		return loginAnswer("t", 1, true), nil // 1s TTL: the renewer acts at ~0.6s
	})
	renewals := 0
	f.on("auth/token/renew-self", func(c fakeCall) (*api.Secret, error) {
		renewals++
		if renewals == 1 {
			return loginAnswer("t", 1, true), nil
		}
		return nil, status(400, "lease is not renewable")
	})
	f.on("sys/internal/ui/mounts/secret/patas", kvV2Mount("secret/"))
	f.on("secret/data/patas", kvV2Data(1, map[string]any{"k": "v"}))
	c, _ := fakeClient(t, f, appRoleLogin)
	if _, err := c.Fetch(context.Background(), ref("v:secret/patas")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a renewal, a refused renewal and a second login", func() bool {
		return f.count("auth/token/renew-self") >= 2 && f.count("auth/approle/login") >= 2
	})
}

func TestTokenNearMaxTTLLogsInAgain(t *testing.T) {
	f := newFake()
	f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) { return loginAnswer("t", 2, true), nil })
	// Every renewal is capped well below the 2s asked: the max TTL is near.
	f.on("auth/token/renew-self", func(c fakeCall) (*api.Secret, error) { return loginAnswer("t", 1, true), nil })
	c, _ := fakeClient(t, f, appRoleLogin)
	if _, err := c.auth.current(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a capped renewal followed by a login", func() bool {
		return f.count("auth/token/renew-self") >= 1 && f.count("auth/approle/login") >= 2
	})
}

func TestLeaseLifecycle(t *testing.T) {
	f := newFake()
	f.on("auth/token/lookup-self", lookupOK("root-token"))
	f.on("sys/internal/ui/mounts/database/creds/patas", engineMount("database/", "database"))
	issued := 0
	f.on("database/creds/patas", func(fakeCall) (*api.Secret, error) {
		issued++
		return &api.Secret{
			LeaseID: "database/creds/patas/" + string(rune('a'+issued-1)), LeaseDuration: 60, Renewable: true,
			Data: map[string]any{"username": "u" + string(rune('a'+issued-1)), "password": "p"},
		}, nil
	})
	var renew func(fakeCall) (*api.Secret, error)
	f.on("sys/leases/renew", func(c fakeCall) (*api.Secret, error) { return renew(c) })
	c, logs := fakeClient(t, f, nil)
	clk := withClock(c)
	fetch := func() fetcher.Secret {
		t.Helper()
		s, err := c.Fetch(context.Background(), ref("v:database/creds/patas"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	user := func(s fetcher.Secret) string { return string(s.Data["username"].Reveal()) }

	s := fetch()
	if user(s) != "ua" || s.TTL != 60*time.Second || s.Version != "database/creds/patas/a" {
		t.Fatalf("got %s ttl %s version %s, want ua 1m0s database/creds/patas/a", user(s), s.TTL, s.Version)
	}
	clk.add(10 * time.Second)
	if s = fetch(); user(s) != "ua" || s.TTL != 50*time.Second || issued != 1 {
		t.Fatalf("before the renewal point: got %s ttl %s after %d issues, want the cached ua with 50s", user(s), s.TTL, issued)
	}

	// At 2/3 of the TTL: renewed, same credentials.
	renew = func(c fakeCall) (*api.Secret, error) {
		if c.data["lease_id"] != "database/creds/patas/a" || c.data["increment"] != int64(60) {
			t.Errorf("renewal asked %v, want lease a and increment 60", c.data)
		}
		return &api.Secret{LeaseID: "database/creds/patas/a", LeaseDuration: 60, Renewable: true}, nil
	}
	clk.add(30 * time.Second)
	if s = fetch(); user(s) != "ua" || s.TTL != 60*time.Second {
		t.Fatalf("after renewal: got %s ttl %s, want ua 1m0s", user(s), s.TTL)
	}

	// Vault unreachable at the next renewal: keep serving ua while it is valid.
	renew = func(fakeCall) (*api.Secret, error) { return nil, errors.New("dial tcp: connection refused") }
	clk.add(40 * time.Second)
	if s = fetch(); user(s) != "ua" || s.TTL != 20*time.Second {
		t.Fatalf("renewal failing: got %s ttl %s, want ua 20s", user(s), s.TTL)
	}
	if logs.FilterMessageSnippet("keeping the current credentials").Len() != 1 {
		t.Errorf("want a warning about keeping the credentials")
	}

	// Capped renewal (max_ttl near): new credentials now.
	renew = func(fakeCall) (*api.Secret, error) {
		return &api.Secret{LeaseID: "database/creds/patas/a", LeaseDuration: 15, Renewable: true}, nil
	}
	clk.add(time.Second)
	if s = fetch(); user(s) != "ub" || issued != 2 {
		t.Fatalf("capped renewal: got %s after %d issues, want ub after 2", user(s), issued)
	}

	// Refused renewal: new credentials.
	renew = func(fakeCall) (*api.Secret, error) { return nil, status(400, "lease not found") }
	clk.add(40 * time.Second)
	if s = fetch(); user(s) != "uc" || issued != 3 {
		t.Fatalf("refused renewal: got %s after %d issues, want uc after 3", user(s), issued)
	}

	// Expired while nobody asked: new credentials without trying to renew.
	before := f.count("sys/leases/renew")
	clk.add(2 * time.Minute)
	if s = fetch(); user(s) != "ud" || f.count("sys/leases/renew") != before {
		t.Fatalf("expired: got %s, renewals %d->%d; want ud and no renewal", user(s), before, f.count("sys/leases/renew"))
	}
}

func TestLeaseReissuedAfterNewLogin(t *testing.T) {
	f := newFake()
	logins := 0
	f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) {
		logins++
		return loginAnswer([]string{"", "t1", "t2"}[min(logins, 2)], 0, false), nil
	})
	f.on("auth/token/lookup-self", lookupOK("t2"))
	f.on("sys/internal/ui/mounts/database/creds/patas", engineMount("database/", "database"))
	issued := 0
	f.on("database/creds/patas", func(c fakeCall) (*api.Secret, error) {
		issued++
		return &api.Secret{LeaseID: "l", LeaseDuration: 3600, Renewable: true, Data: map[string]any{"username": c.token}}, nil
	})
	c, _ := fakeClient(t, f, appRoleLogin)
	if _, err := c.Fetch(context.Background(), ref("v:database/creds/patas")); err != nil {
		t.Fatal(err)
	}
	// Vault revoked t1 (and with it, its leases): the next read of another path gets a
	// 403, which leads to a new login; the lease of t1 must not be served any more.
	if _, err := c.auth.recover(context.Background(), c.auth.cur); err != nil {
		t.Fatal(err)
	}
	s, err := c.Fetch(context.Background(), ref("v:database/creds/patas"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Data["username"].Reveal()); got != "t2" || issued != 2 {
		t.Errorf("got credentials of %s after %d issues, want those issued under t2 after 2", got, issued)
	}
}

func TestLoginRequests(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		auth     Auth
		wantPath string
		want     map[string]any
	}{
		{"approle", Auth{Method: MethodAppRole, RoleIDFile: write("rid", "role-1\n"), SecretIDFile: write("sid", " secret-1 ")},
			"auth/approle/login", map[string]any{"role_id": "role-1", "secret_id": "secret-1"}},
		{"approle custom mount", Auth{Method: MethodAppRole, Mount: "/apps/", RoleIDFile: write("rid2", "role-2")},
			"auth/apps/login", map[string]any{"role_id": "role-2"}},
		{"kubernetes", Auth{Method: MethodKubernetes, Role: "patas", TokenFile: write("sa", "eyJ.sa.jwt")},
			"auth/kubernetes/login", map[string]any{"role": "patas", "jwt": "eyJ.sa.jwt"}},
		{"jwt", Auth{Method: MethodJWT, Mount: "gitlab", Role: "ci", JWTFile: write("jwt", "eyJ.ci.jwt\n")},
			"auth/gitlab/login", map[string]any{"role": "ci", "jwt": "eyJ.ci.jwt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn, err := loginFor(tt.auth)
			if err != nil {
				t.Fatal(err)
			}
			req, err := fn()
			if err != nil {
				t.Fatal(err)
			}
			if req.secretID != nil { // read at login, as doLogin does (no unwrap here)
				id, err := req.secretID.get(context.Background(), nil, zap.NewNop())
				if err != nil {
					t.Fatal(err)
				}
				req.data["secret_id"] = id
			}
			got, _ := json.Marshal(req.data)
			want, _ := json.Marshal(tt.want)
			if req.path != tt.wantPath || string(got) != string(want) {
				t.Errorf("got %s %s, want %s %s", req.path, got, tt.wantPath, want)
			}
		})
	}
	if _, err := loginFor(Auth{Method: "ldap"}); err == nil || !strings.Contains(err.Error(), "token, approle, kubernetes, jwt") {
		t.Errorf("unknown method: got %v, want an error listing the methods", err)
	}
	fn, _ := loginFor(Auth{Method: MethodJWT, JWTFile: write("empty", "\n")})
	if _, err := fn(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty jwt file: got %v, want an error", err)
	}
}

func TestRequireTLS(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"https", Options{Address: "https://vault:8200", RequireTLS: true}, true},
		{"http refused", Options{Address: "http://vault:8200", RequireTLS: true}, false},
		{"skip verify refused", Options{Address: "https://vault:8200", TLSSkipVerify: true, RequireTLS: true}, false},
		{"http allowed outside production", Options{Address: "http://vault:8200"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts, nil)
			if c != nil {
				c.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("got error %v, want ok=%v", err, tt.ok)
			}
		})
	}
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	if _, err := New(Options{Address: "https://vault:8200", RequireTLS: true}, nil); err == nil {
		t.Errorf("VAULT_SKIP_VERIFY=true in production: got no error")
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
