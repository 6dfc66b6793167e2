package vault

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/patas/patas-secrets/internal/testenv/faultproxy"
)

// A token with a 3 s TTL behind a fault proxy that hangs: the renewer's renew-self hangs,
// and still every read ends within its deadline + 1 s, and Close within 1 s.
func TestIntegrationHungRenewalShortTTL(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "kv", "put", "secret/patas", "api_keys=k1")
	tok, err := f.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"root"}, TTL: "3s"}) // renewable by default
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.HTTP(t, f.v.Addr)
	c, err := New(Options{Address: p.URL, Auth: Auth{Method: MethodToken, TokenFile: f.tokenFile(tok.Auth.ClientToken)}}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f.mustFetch(c, "vault:secret/patas")
	p.Set(faultproxy.Fault{Kind: faultproxy.Hang}) // the renewer acts at about 2 s and hangs
	const fetchTimeout = 2 * time.Second
	for i := range 3 { // spans the renewal point
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		start := time.Now()
		done := make(chan error, 1)
		go func() { _, err := c.Fetch(ctx, ref("vault:secret/patas")); done <- err }()
		select {
		case <-done:
		case <-time.After(fetchTimeout + time.Second):
			t.Fatalf("read %d still running %s after its %s deadline", i, time.Second, fetchTimeout)
		}
		cancel()
		t.Logf("read %d ended after %s", i, time.Since(start).Round(time.Millisecond))
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Second):
		t.Fatal("Close still running 1 s after it was called, behind a hung renewal")
	}
	if p.Hit() < 3 {
		t.Errorf("only %d requests met the hang", p.Hit())
	}
}
