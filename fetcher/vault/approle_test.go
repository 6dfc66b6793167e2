package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
)

// wrappedVault answers sys/wrapping/lookup and sys/wrapping/unwrap for one single-use
// wrapping token made at auth/approle/role/patas/secret-id.
func wrappedVault(wrapToken, secretID string) *fakeVault {
	f := newFake()
	spent := false
	f.on("sys/wrapping/lookup", func(c fakeCall) (*api.Secret, error) {
		if c.data["token"] != wrapToken || spent {
			return nil, status(400, "wrapping token is not valid or does not exist")
		}
		return &api.Secret{Data: map[string]any{"creation_path": "auth/approle/role/patas/secret-id"}}, nil
	})
	f.on("sys/wrapping/unwrap", func(c fakeCall) (*api.Secret, error) {
		if c.token != wrapToken || spent {
			return nil, status(400, "wrapping token is not valid or does not exist")
		}
		spent = true
		return &api.Secret{Data: map[string]any{"secret_id": secretID, "secret_id_accessor": "acc"}}, nil
	})
	return f
}

func TestSecretIDSource(t *testing.T) {
	ctx := context.Background()
	const wrapToken, secretID = "hvs.WRAP-CANARY-1", "SECRET-ID-CANARY-2"
	file := func(t *testing.T, content string) string {
		p := filepath.Join(t.TempDir(), "secret_id")
		os.WriteFile(p, []byte(content+"\n"), 0o600)
		return p
	}

	t.Run("unwrapped once, cached for later logins, file removed", func(t *testing.T) {
		f := wrappedVault(wrapToken, secretID)
		p := file(t, wrapToken)
		s := &secretIDSource{file: p, wrapped: true, wrapPath: "auth/approle/role/patas/secret-id", removeAfterRead: true}
		for i := range 3 {
			id, err := s.get(ctx, f, zap.NewNop())
			if err != nil || id != secretID {
				t.Fatalf("login %d: got %q, %v", i, id, err)
			}
		}
		if n := f.count("sys/wrapping/unwrap"); n != 1 {
			t.Errorf("unwrapped %d times, want once", n)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("secret_id_file still exists: %v", err)
		}
	})

	t.Run("a new file is read again", func(t *testing.T) {
		p := file(t, "plain-one")
		s := &secretIDSource{file: p}
		if id, _ := s.get(ctx, nil, zap.NewNop()); id != "plain-one" {
			t.Fatalf("got %q", id)
		}
		os.WriteFile(p, []byte("plain-two"), 0o600)
		if id, _ := s.get(ctx, nil, zap.NewNop()); id != "plain-two" {
			t.Errorf("after rotation: got %q, want plain-two", id)
		}
	})

	t.Run("wrong creation path is refused before unwrapping", func(t *testing.T) {
		f := wrappedVault(wrapToken, secretID)
		s := &secretIDSource{file: file(t, wrapToken), wrapped: true, wrapPath: "auth/approle/role/other/secret-id"}
		_, err := s.get(ctx, f, zap.NewNop())
		if !errors.Is(err, errWrapPath) || f.count("sys/wrapping/unwrap") != 0 {
			t.Errorf("got %v (unwraps: %d), want errWrapPath and no unwrap", err, f.count("sys/wrapping/unwrap"))
		}
		checkNoCanary(t, err)
	})

	t.Run("a spent wrapping token is an auth error without the token", func(t *testing.T) {
		f := wrappedVault(wrapToken, secretID)
		f.write(ctx, wrapToken, "sys/wrapping/unwrap", nil) // someone else unwrapped it first
		s := &secretIDSource{file: file(t, wrapToken), wrapped: true}
		_, err := s.get(ctx, f, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "unwrapping secret_id_file") {
			t.Errorf("got %v, want an unwrapping error", err)
		}
		checkNoCanary(t, err)
	})
}

func checkNoCanary(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "CANARY") {
		t.Errorf("error holds a credential: %v", err)
	}
}
