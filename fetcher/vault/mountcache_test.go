package vault

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// n secrets under one mount: one preflight, n reads (plus the token check).
func TestMountCachedByPrefix(t *testing.T) {
	f := newFake()
	f.on("auth/token/lookup-self", lookupOK("root-token"))
	const n = 5
	for i := range n {
		f.on(fmt.Sprintf("sys/internal/ui/mounts/secret/app/s%d", i), kvV2Mount("secret/"))
		f.on(fmt.Sprintf("secret/data/app/s%d", i), kvV2Data(1, map[string]any{"k": "v"}))
	}
	f.on("sys/internal/ui/mounts/secretive/x", engineMount("secretive/", "database"))
	f.on("secretive/x", kvV2Data(1, map[string]any{"k": "v"}))
	c, _ := fakeClient(t, f, nil)
	for i := range n {
		if _, err := c.Fetch(context.Background(), ref(fmt.Sprintf("vault:secret/app/s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	total, preflights := len(f.calls), 0
	for _, call := range f.calls {
		if strings.HasPrefix(call.path, "sys/internal/ui/mounts/") {
			preflights++
		}
	}
	f.mu.Unlock()
	if preflights != 1 || total != n+2 {
		t.Errorf("%d secrets under one mount: %d requests, %d preflights; want %d and 1", n, total, preflights, n+2)
	}
	// A mount whose name merely starts like a known one is asked for.
	if _, err := c.Fetch(context.Background(), ref("vault:secretive/x")); err != nil {
		t.Fatal(err)
	}
	if got := f.count("sys/internal/ui/mounts/secretive/x"); got != 1 {
		t.Errorf("secretive/x preflights: %d, want 1 (not served by secret/)", got)
	}
}

// TestMountLookedUpOnceByConcurrentReads: the engine's first refresh reads secrets
// concurrently; secrets under one mount still cost one mount lookup, not one per reader that
// missed the cache before the first answer came back (the lookup is slowed to make them meet).
func TestMountLookedUpOnceByConcurrentReads(t *testing.T) {
	f := newFake()
	f.on("auth/token/lookup-self", lookupOK("root-token"))
	const n = 8
	slowMount := kvV2Mount("secret/")
	for i := range n {
		f.on(fmt.Sprintf("sys/internal/ui/mounts/secret/app/s%d", i), func(c fakeCall) (*api.Secret, error) {
			time.Sleep(50 * time.Millisecond)
			return slowMount(c)
		})
		f.on(fmt.Sprintf("secret/data/app/s%d", i), kvV2Data(1, map[string]any{"k": "v"}))
	}
	c, _ := fakeClient(t, f, nil)
	if _, err := c.Fetch(context.Background(), ref("vault:secret/app/s0")); err != nil {
		t.Fatal(err) // the token check first, so only the mount lookups race below
	}
	c.forgetMount("secret/app/s0")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Fetch(context.Background(), ref(fmt.Sprintf("vault:secret/app/s%d", i))); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	lookups := 0
	f.mu.Lock()
	for _, call := range f.calls {
		if strings.HasPrefix(call.path, "sys/internal/ui/mounts/") {
			lookups++
		}
	}
	f.mu.Unlock()
	if lookups != 2 { // one for the first read, one after forgetMount for the concurrent ones
		t.Errorf("%d concurrent reads under one mount: %d mount lookups, want 1 (+1 before)", n, lookups-1)
	}
}
