package vault

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// hangUntil answers like a Vault that takes the request and says nothing until release is
// closed or the caller gives up; entered receives each arrival.
func hangUntil(release <-chan struct{}, entered chan<- struct{}, answer *api.Secret) func(fakeCall) (*api.Secret, error) {
	return func(c fakeCall) (*api.Secret, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return answer, nil
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		}
	}
}

// A renewal that hangs holds no lock: reads go on with the current token, each within its
// own deadline, and Close ends the renewal at once.
func TestHungRenewalDoesNotBlockReads(t *testing.T) {
	f := newFake()
	f.on("auth/approle/login", func(fakeCall) (*api.Secret, error) { return loginAnswer("tok-1", 3, true), nil })
	f.on("sys/internal/ui/mounts/secret/x", kvV2Mount("secret/"))
	f.on("secret/data/x", kvV2Data(1, map[string]any{"k": "v"}))
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	defer close(release)
	f.on("auth/token/renew-self", hangUntil(release, entered, loginAnswer("tok-1", 3, true)))
	c, _ := fakeClient(t, f, appRoleLogin)
	if _, err := c.Fetch(context.Background(), ref("vault:secret/x")); err != nil {
		t.Fatal(err)
	}
	select { // the renewer acts at about 2/3 of the 3 s TTL
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the renewer never called renew-self")
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		done := make(chan error, 1)
		go func() { _, err := c.Fetch(ctx, ref("vault:secret/x")); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("read %d during a hung renewal: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("read %d is blocked behind the hung renewal", i)
		}
		cancel()
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close is blocked behind the hung renewal")
	}
}

// A login that hangs is shared by every read that needs it (one call), and each read waits
// only until its own deadline.
func TestHungLoginBoundedByEachRead(t *testing.T) {
	f := newFake()
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	f.on("auth/approle/login", hangUntil(release, entered, loginAnswer("tok-1", 3600, true)))
	f.on("sys/internal/ui/mounts/secret/x", kvV2Mount("secret/"))
	f.on("secret/data/x", kvV2Data(1, map[string]any{"k": "v"}))
	c, _ := fakeClient(t, f, appRoleLogin)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := c.Fetch(ctx, ref("vault:secret/x"))
			errs <- err
		}()
	}
	wg.Wait() // each returns at its deadline although the login still hangs
	close(errs)
	for err := range errs {
		if err == nil {
			t.Error("a read succeeded without a login")
		}
	}
	if n := f.count("auth/approle/login"); n != 1 {
		t.Errorf("logins: %d, want one shared by the four reads", n)
	}
	close(release) // the login completes: the next read uses its token
	if _, err := c.Fetch(context.Background(), ref("vault:secret/x")); err != nil {
		t.Errorf("read after the login ended: %v", err)
	}
}
