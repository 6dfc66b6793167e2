package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// TestPKIIssueCachedUntilTwoThirds: a pki/issue/ROLE read issues one certificate (a write
// with the configured common_name and ttl), serves it to every read until 2/3 of its
// lifetime, then issues the next; cert, key and CA of one read always belong together.
func TestPKIIssueCachedUntilTwoThirds(t *testing.T) {
	f := newFake()
	f.on("sys/internal/ui/mounts/pki/issue/patas", engineMount("pki/", "pki"))
	now := time.Unix(1_800_000_000, 0)
	serial := 0
	f.on("pki/issue/patas", func(c fakeCall) (*api.Secret, error) {
		if c.op != "write" || c.data["common_name"] != "patas.svc" || c.data["ttl"] != "1h0m0s" {
			return nil, fmt.Errorf("unexpected call %+v", c)
		}
		serial++
		return &api.Secret{Data: map[string]any{
			"certificate": fmt.Sprintf("CERT-%d", serial), "private_key": fmt.Sprintf("KEY-%d", serial),
			"issuing_ca": "CA", "ca_chain": []any{"CA\n", "ROOT"}, "serial_number": fmt.Sprintf("s-%d", serial),
			"expiration": json.Number(fmt.Sprint(now.Add(time.Hour).Unix())),
		}}, nil
	})
	c, _ := fakeClient(t, f, appRoleLogin)
	f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) { return loginAnswer("t", 0, false), nil })
	c.pki = map[string]PKIRequest{"pki/issue/patas": {CommonName: "patas.svc", TTL: time.Hour}}
	clock := now
	c.now = func() time.Time { return clock }

	read := func() (string, string, time.Duration) {
		t.Helper()
		s, err := c.Fetch(context.Background(), ref("v:pki/issue/patas"))
		if err != nil {
			t.Fatal(err)
		}
		if k := string(s.Data["private_key"].Reveal()); k[len(k)-1] != string(s.Data["certificate"].Reveal())[5] {
			t.Errorf("certificate and key of different issues")
		}
		return string(s.Data["certificate"].Reveal()), string(s.Data["ca_chain"].Reveal()), s.TTL
	}
	cert, chain, ttl := read()
	if cert != "CERT-1" || chain != "CA\nROOT\n" || ttl != time.Hour {
		t.Fatalf("first: got %s %q %v", cert, chain, ttl)
	}
	clock = now.Add(39 * time.Minute)
	if cert, _, ttl = read(); cert != "CERT-1" || ttl != 21*time.Minute {
		t.Errorf("before 2/3: got %s ttl %v, want CERT-1 with 21m left", cert, ttl)
	}
	clock = now.Add(41 * time.Minute)
	if cert, _, _ = read(); cert != "CERT-2" {
		t.Errorf("after 2/3: got %s, want a new certificate", cert)
	}
	if f.count("pki/issue/patas") != 2 {
		t.Errorf("issued %d times, want 2", f.count("pki/issue/patas"))
	}
}
