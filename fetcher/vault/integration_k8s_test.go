package vault

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
)

// tokenReviewServer stands in for the Kubernetes API server: Vault's kubernetes auth
// method sends the pod's service-account JWT to POST /apis/authentication.k8s.io/v1/
// tokenreviews, and this answers as the API server does for a valid token of
// system:serviceaccount:default:patas (and "not authenticated" for any other token).
func tokenReviewServer(t *testing.T, validJWT string, reviews *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Spec struct {
				Token     string   `json:"token"`
				Audiences []string `json:"audiences"`
			} `json:"spec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reviews.Add(1)
		status := map[string]any{"authenticated": false}
		if req.Spec.Token == validJWT {
			status = map[string]any{
				"authenticated": true,
				"user":          map[string]any{"username": "system:serviceaccount:default:patas", "uid": "uid-patas"},
				"audiences":     req.Spec.Audiences,
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{
			"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "status": status,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestIntegrationKubernetes(t *testing.T) {
	f := newFixture(t)
	key := f.seedPatas()
	now := time.Now()
	saJWT := signRS256(t, key, map[string]any{
		"iss":                                    "kubernetes/serviceaccount",
		"kubernetes.io/serviceaccount/namespace": "default",
		"kubernetes.io/serviceaccount/service-account.name": "patas",
		"kubernetes.io/serviceaccount/service-account.uid":  "uid-patas",
		"sub": "system:serviceaccount:default:patas",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	var reviews atomic.Int32
	kube := tokenReviewServer(t, saJWT, &reviews)

	f.v.CLI(t, "auth", "enable", "kubernetes")
	f.write("auth/kubernetes/config", map[string]any{
		"kubernetes_host":      kube.URL,
		"kubernetes_ca_cert":   selfSignedPEM(t, key),
		"disable_local_ca_jwt": true,
	})
	f.write("auth/kubernetes/role/patas", map[string]any{
		"bound_service_account_names":      []string{"patas"},
		"bound_service_account_namespaces": []string{"default"},
		"token_policies":                   []string{"patas-read"},
		"token_ttl":                        "1h",
	})
	saFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(saFile, []byte(saJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	c := f.client(Auth{Method: MethodKubernetes, Role: "patas", TokenFile: saFile})
	if s := f.mustFetch(c, "vault:secret/patas"); field(s, "api_keys") != canaryKey {
		t.Errorf("got a different api_keys")
	}
	if reviews.Load() == 0 {
		t.Errorf("Vault never asked the Kubernetes API to review the token")
	}

	wrong := f.client(Auth{Method: MethodKubernetes, Role: "someone-else", TokenFile: saFile})
	if _, err := f.fetch(wrong, "vault:secret/patas"); !errors.Is(err, fetcher.ErrPermission) {
		t.Errorf("unknown role: got %v, want ErrPermission", err)
	}
}

// selfSignedPEM is a CA certificate for kubernetes_ca_cert, which Vault requires even though
// the stand-in API server speaks plain http.
func selfSignedPEM(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
