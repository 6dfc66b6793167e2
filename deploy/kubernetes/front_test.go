package kubernetes_test

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv/kube"
)

// front makes a test server on loopback (Vault, moto, PostgreSQL) reachable from the pods: it
// listens on the pods' bridge (kube.BridgeIP), with TLS and a certificate of its own CA (a
// production backend behind TLS with a private CA) or as plain TCP. Down refuses every
// connection (and ends the open ones) until Up.
type front struct {
	Addr  string // BridgeIP:PORT
	CAPEM []byte

	target string
	cfg    *tls.Config
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startFront(t *testing.T, target string, withTLS bool) *front {
	t.Helper()
	ca, err := kube.NewCA("patas-test-backend-ca")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server("backend", kube.BridgeIP)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	f := &front{CAPEM: ca.CertPEM, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{},
		cfg: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	if !withTLS {
		f.cfg = nil
	}
	if err := f.listen(kube.BridgeIP + ":0"); err != nil {
		t.Fatal(err)
	}
	f.Addr = f.ln.Addr().String()
	t.Cleanup(func() {
		f.Down()
		f.wg.Wait()
	})
	return f
}

func (f *front) URL() string { return "https://" + f.Addr }

func (f *front) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err == nil && f.cfg != nil {
		ln = tls.NewListener(ln, f.cfg)
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	return nil
}

func (f *front) serve(c net.Conn) {
	f.mu.Lock()
	if f.ln == nil {
		f.mu.Unlock()
		c.Close()
		return
	}
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	up, err := net.Dial("tcp", f.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// Down closes the listener and every open connection: the backend is unreachable.
func (f *front) Down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		c.Close()
	}
}

// Up listens again on the same address.
func (f *front) Up(t *testing.T) {
	t.Helper()
	if err := f.listen(f.Addr); err != nil {
		t.Fatal(err)
	}
}

// caConfigMap is the ConfigMap patas-secrets-ca the manifests mount for a private CA.
func caConfigMap(caPEM []byte) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: patas-secrets-ca\n  namespace: patas\ndata:\n  ca.crt: |\n")
	for _, line := range strings.Split(strings.TrimSpace(string(caPEM)), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}
