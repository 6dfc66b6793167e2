package gcpsm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TLS serves over TLS with a certificate for 127.0.0.1 made at start, as the real endpoint
// serves only TLS: clients send access tokens only over a secure transport, so tests of
// application default credentials need it.
func TLS() Option { return func(s *Server) { s.tls = &tlsConfig{} } }

// RequireAuth refuses calls without an "authorization: Bearer …" header with UNAUTHENTICATED,
// as the service does. It checks presence, not validity: tests read LastAuthorization.
func RequireAuth() Option { return func(s *Server) { s.requireAuth = true } }

// LastAuthorization returns the authorization header of the last call ("" if none).
func (s *Server) LastAuthorization() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAuth
}

type tlsConfig struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// serverConfig makes the certificate and returns the server's TLS configuration.
func (c *tlsConfig) serverConfig(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("gcpsm: TLS key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gcpsm test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("gcpsm: TLS certificate: %v", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	c.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	c.pool = x509.NewCertPool()
	c.pool.AddCert(leaf)
	return &tls.Config{Certificates: []tls.Certificate{c.cert}, MinVersion: tls.VersionTLS12}
}

func (c *tlsConfig) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS12}
}

func (c *tlsConfig) dialOption() grpc.DialOption {
	return grpc.WithTransportCredentials(credentials.NewTLS(c.clientConfig()))
}
