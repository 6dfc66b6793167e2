package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority for tests: the cluster's own, or one for a backend's TLS.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// NewCA makes a CA valid for a day.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pemBlock("CERTIFICATE", der), key: key}, nil
}

// Leaf is a certificate and its key, PEM-encoded.
type Leaf struct{ CertPEM, KeyPEM []byte }

// Server issues a serving certificate for the given names and IP addresses.
func (ca *CA) Server(cn string, hosts ...string) (Leaf, error) {
	tmpl := leafTemplate(pkix.Name{CommonName: cn}, x509.ExtKeyUsageServerAuth)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl)
}

// Client issues a client certificate; Kubernetes reads the user from CN and groups from O.
func (ca *CA) Client(cn string, groups ...string) (Leaf, error) {
	return ca.issue(leafTemplate(pkix.Name{CommonName: cn, Organization: groups}, x509.ExtKeyUsageClientAuth))
}

func leafTemplate(subject pkix.Name, usage x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
	}
}

func (ca *CA) issue(tmpl *x509.Certificate) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return Leaf{}, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Leaf{}, err
	}
	return Leaf{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("EC PRIVATE KEY", kder)}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writePKI writes the cluster's certificates, the service-account key pair and one
// kubeconfig per client into dir (the layout gen-pki.sh of the recipe made with openssl).
func writePKI(dir, node, apiServer string) (*CA, error) {
	ca, err := NewCA("patas-test-kubernetes-ca")
	if err != nil {
		return nil, err
	}
	caKey, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		return nil, err
	}
	// The controller-manager signs with the CA (CSRs, the kubelet's serving certificates).
	files := map[string][]byte{"ca.crt": ca.CertPEM, "ca.key": pemBlock("EC PRIVATE KEY", caKey)}
	add := func(name string, l Leaf, err error) error {
		if err != nil {
			return fmt.Errorf("certificate %s: %w", name, err)
		}
		files[name+".crt"], files[name+".key"] = l.CertPEM, l.KeyPEM
		return nil
	}
	steps := []func() error{
		func() error {
			l, err := ca.Server("kube-apiserver", "127.0.0.1", ServiceIP, BridgeIP, "localhost", "kubernetes",
				"kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
			return add("apiserver", l, err)
		},
		func() error { l, err := ca.Client("kubernetes-admin", "system:masters"); return add("admin", l, err) },
		func() error {
			l, err := ca.Client("system:kube-controller-manager")
			return add("controller-manager", l, err)
		},
		func() error { l, err := ca.Client("system:kube-scheduler"); return add("scheduler", l, err) },
		func() error { l, err := ca.Client("system:node:"+node, "system:nodes"); return add("kubelet", l, err) },
		func() error {
			l, err := ca.Client("kube-apiserver-kubelet-client", "system:masters")
			return add("apiserver-kubelet-client", l, err)
		},
		func() error { l, err := ca.Server(node, "127.0.0.1", node); return add("kubelet-serving", l, err) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	files["sa.key"] = pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(sa))
	files["sa.pub"] = pemBlock("PUBLIC KEY", pub)
	for _, user := range []string{"admin", "controller-manager", "scheduler", "kubelet"} {
		files[user+".kubeconfig"] = []byte(kubeconfig(dir, user, apiServer))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

func kubeconfig(dir, user, server string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    certificate-authority: %[1]s/ca.crt
    server: %[3]s
users:
- name: %[2]s
  user:
    client-certificate: %[1]s/%[2]s.crt
    client-key: %[1]s/%[2]s.key
contexts:
- name: test
  context: {cluster: test, user: %[2]s}
current-context: test
`, dir, user, server)
}
