package vault

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
)

// TestIntegrationPKI issues a certificate from the real Vault's PKI engine through the
// engine into a files output: certificate, private_key and ca_chain land in one generation
// (the key matches the certificate, the chain verifies it), and the certificate is issued
// again at about 2/3 of its 9s lifetime, the new generation replacing the old as one.
func TestIntegrationPKI(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "secrets", "enable", "pki")
	f.v.CLI(t, "secrets", "tune", "-max-lease-ttl=87600h", "pki")
	f.write("pki/root/generate/internal", map[string]any{"common_name": "patas test root", "ttl": "87600h"})
	f.write("pki/roles/patas", map[string]any{"allowed_domains": "patas.svc", "allow_subdomains": true, "allow_bare_domains": true, "max_ttl": "1h"})

	c, err := New(Options{Address: f.v.Addr, Auth: Auth{Method: MethodToken, TokenFile: f.tokenFile(f.v.Token)},
		PKI: map[string]PKIRequest{"pki/issue/patas": {CommonName: "api.patas.svc", TTL: 9 * time.Second}}}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	dir := t.TempDir()
	f.runEngine(dir, `backends: {vault: {type: vault}}
secrets: [{ref: 'vault:pki/issue/patas', expand: true, prefix: TLS_}]
outputs: [{format: files, path: out/tls, mode: "0400"}]
refresh: {interval: 1h}
listen: "off"
`, map[string]fetcher.Backend{"vault": c})

	tlsDir := filepath.Join(dir, "out", "tls")
	read := func() (cert *x509.Certificate, ok bool) {
		gen, err := os.Readlink(filepath.Join(tlsDir, "..data"))
		if err != nil {
			return nil, false
		}
		// Read the three files from one generation directory, as a reader resolving ..data once would.
		certPEM, e1 := os.ReadFile(filepath.Join(tlsDir, gen, "TLS_CERTIFICATE"))
		keyPEM, e2 := os.ReadFile(filepath.Join(tlsDir, gen, "TLS_PRIVATE_KEY"))
		chainPEM, e3 := os.ReadFile(filepath.Join(tlsDir, gen, "TLS_CA_CHAIN"))
		if e1 != nil || e2 != nil || e3 != nil {
			return nil, false
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Fatalf("certificate and key of one generation do not match: %v", err)
		}
		block, _ := pem.Decode(certPEM)
		cert, err = x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(chainPEM)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "api.patas.svc", CurrentTime: cert.NotBefore.Add(time.Second)}); err != nil {
			t.Fatalf("the chain does not verify the certificate: %v", err)
		}
		return cert, true
	}
	var first *x509.Certificate
	deadline := time.Now().Add(30 * time.Second)
	for first == nil {
		if time.Now().After(deadline) {
			t.Fatal("no certificate was written")
		}
		first, _ = read()
		time.Sleep(50 * time.Millisecond)
	}
	if first.Subject.CommonName != "api.patas.svc" || first.NotAfter.Sub(first.NotBefore) > time.Minute {
		t.Errorf("got CN %q lifetime %v", first.Subject.CommonName, first.NotAfter.Sub(first.NotBefore))
	}
	deadline = time.Now().Add(45 * time.Second)
	for {
		if cert, ok := read(); ok && cert.SerialNumber.Cmp(first.SerialNumber) != 0 {
			// Vault back-dates not_before by 30s (the role's not_before_duration): the new
			// certificate was issued at its NotBefore+30s, which must be before the old one ended.
			if issued := cert.NotBefore.Add(30 * time.Second); !issued.Before(first.NotAfter) {
				t.Errorf("the new certificate was issued at %v, after the old one ended at %v", issued, first.NotAfter)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the certificate was not issued again before its end")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if fi, err := os.Stat(filepath.Join(tlsDir, "TLS_PRIVATE_KEY")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("private key mode: %v %v, want 0400", fi, err)
	}
}
