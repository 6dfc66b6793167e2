package vault

import (
	"context"
	"fmt"
	"strings"
	"testing"
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
