package gcp

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
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv/gcpsm"
)

// isolateADC clears every place application default credentials could come from, so that a
// test sees only what it sets up.
func isolateADC(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gcloud"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv("GOOGLE_CLOUD_UNIVERSE_DOMAIN", "")
}

// tlsServer is a TLS endpoint that refuses calls without a bearer token, like the service.
func tlsServer(t *testing.T) *gcpsm.Server {
	srv := gcpsm.Start(t, gcpsm.TLS(), gcpsm.RequireAuth())
	srv.AddVersion(t, "my-project", "patas-database-url", []byte("postgresql://"+canary))
	return srv
}

func newADCBackend(t *testing.T, srv *gcpsm.Server) *Backend {
	t.Helper()
	b, err := New(context.Background(), Options{Project: "my-project", Endpoint: srv.Addr, HTTPClient: srv.HTTPClient()}, zap.NewNop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// A service-account key named by GOOGLE_APPLICATION_CREDENTIALS: golang.org/x/oauth2 signs a JWT
// with the key (or trades it at token_uri); either way the call carries a token that only
// this key could have produced.
func TestCredentialsFromGoogleApplicationCredentials(t *testing.T) {
	isolateADC(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const email = "patas-secrets@my-project.iam.gserviceaccount.com"
	tokenURI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"ya29.from-token-uri","expires_in":3600,"token_type":"Bearer"}`))
	}))
	defer tokenURI.Close()
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	writeJSON(t, keyFile, map[string]string{
		"type":           "service_account",
		"project_id":     "my-project",
		"private_key_id": "k1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, key)})),
		"client_email":   email,
		"client_id":      "1",
		"token_uri":      tokenURI.URL + "/token",
	})
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", keyFile)

	srv := tlsServer(t)
	b := newADCBackend(t, srv)
	if got, _ := fetchValue(t, b, "gcp:patas-database-url"); got != "postgresql://"+canary {
		t.Fatal("got a different value")
	}
	tok, ok := strings.CutPrefix(srv.LastAuthorization(), "Bearer ")
	if !ok {
		t.Fatalf("no bearer token reached the server (authorization %q)", srv.LastAuthorization())
	}
	if tok != "ya29.from-token-uri" {
		checkJWT(t, tok, &key.PublicKey, email)
	}
}

// GKE Workload Identity: the pod's metadata server hands out the token.
func TestCredentialsFromWorkloadIdentity(t *testing.T) {
	isolateADC(t)
	md := gcpsm.StartMetadata(t, "my-project", "patas-secrets@my-project.iam.gserviceaccount.com", "ya29.workload-identity")
	t.Setenv("GCE_METADATA_HOST", md.Host)

	srv := tlsServer(t)
	b := newADCBackend(t, srv)
	if got, _ := fetchValue(t, b, "gcp:patas-database-url"); got != "postgresql://"+canary {
		t.Fatal("got a different value")
	}
	if got := srv.LastAuthorization(); got != "Bearer ya29.workload-identity" {
		t.Fatalf("authorization: got %q, want the metadata server's token", got)
	}
}

// Workload Identity misconfigured (the pod's service account is bound to no Google one): the
// metadata server refuses a token. Reported as a permission problem with a hint, never as a
// missing secret. (With no credentials at all New fails at once with the same hint; that
// case is not tested because the library then probes 169.254.169.254, which depends on the
// machine's network.)
func TestWorkloadIdentityWithoutBinding(t *testing.T) {
	isolateADC(t)
	md := gcpsm.StartMetadata(t, "my-project", "x@y", "")
	srv := tlsServer(t)
	t.Setenv("GCE_METADATA_HOST", md.Host)
	b, err := New(context.Background(), Options{Project: "my-project", Endpoint: srv.Addr, HTTPClient: srv.HTTPClient()}, zap.NewNop())
	if err != nil {
		if !strings.Contains(err.Error(), "application default credentials") {
			t.Fatalf("New: got %v, want a hint about application default credentials", err)
		}
		return
	}
	defer b.Close()
	err = fetchErr(t, b, "gcp:patas-database-url")
	if !errors.Is(err, fetcher.ErrPermission) || !strings.Contains(err.Error(), "application default credentials") {
		t.Fatalf("got %v, want ErrPermission with a hint about application default credentials", err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustPKCS8(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// checkJWT verifies an RS256 self-signed JWT against pub and checks who issued it.
func checkJWT(t *testing.T, tok string, pub *rsa.PublicKey, email string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token is neither the token_uri's nor a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("the JWT is not signed by the service account's key: %v", err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Iss != email {
		t.Fatalf("JWT issuer: got %q (%v), want %s", claims.Iss, err, email)
	}
}
