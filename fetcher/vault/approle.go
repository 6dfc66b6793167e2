package vault

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// secretIDSource reads an AppRole secret_id from its file at each login. A response-wrapped
// one (the file holds a single-use wrapping token, as `vault write -wrap-ttl=… auth/approle/
// role/R/secret-id` prints it) is unwrapped at login, after checking where the wrapping token
// was created when wrapPath is set. What a file gave is kept in memory, so a later login
// (a refused renewal, max TTL) still works after the wrapping token is spent or the file was
// removed (removeAfterRead); a file with new content is read and unwrapped again.
type secretIDSource struct {
	file            string
	wrapped         bool
	wrapPath        string
	removeAfterRead bool

	mu     sync.Mutex
	cached fetcher.Value
	from   [sha256.Size]byte // hash of the file content cached came from
}

// errWrapPath: the wrapping token was not made where the config says secret_ids are made;
// someone may have wrapped a secret_id of their own (Vault's documented wrapping check).
var errWrapPath = errors.New("the wrapping token in secret_id_file was not created at secret_id_wrapping_path")

func (s *secretIDSource) get(ctx context.Context, vapi vaultAPI, log *zap.Logger) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := readCredential(s.file, "secret_id_file")
	if errors.Is(err, fs.ErrNotExist) && s.cached.IsSet() {
		return string(s.cached.Reveal()), nil // removed after reading, by us or the operator
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(raw))
	if s.cached.IsSet() && sum == s.from {
		return string(s.cached.Reveal()), nil
	}
	id := raw
	if s.wrapped {
		if id, err = s.unwrap(ctx, vapi, raw); err != nil {
			return "", err
		}
	}
	s.cached, s.from = fetcher.StringValue(id), sum
	if s.removeAfterRead {
		if err := os.Remove(s.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cannot remove secret_id_file after reading it", zap.String("file", s.file), zap.Error(err))
		}
	}
	return id, nil
}

// unwrap exchanges the wrapping token for the secret_id it wraps. Errors name the step,
// never the token or the secret_id.
func (s *secretIDSource) unwrap(ctx context.Context, vapi vaultAPI, token string) (string, error) {
	if s.wrapPath != "" {
		sec, err := vapi.write(ctx, "", "sys/wrapping/lookup", map[string]any{"token": token})
		if err != nil {
			return "", fmt.Errorf("looking up the wrapping token in secret_id_file: %w", loginError(err))
		}
		got, _ := dataString(sec, "creation_path")
		if got != s.wrapPath {
			return "", fmt.Errorf("%w (%s; it was created at %q)", errWrapPath, s.wrapPath, got)
		}
	}
	sec, err := vapi.write(ctx, token, "sys/wrapping/unwrap", nil)
	if err != nil {
		return "", fmt.Errorf("unwrapping secret_id_file (a wrapping token works once and expires at its wrap_ttl): %w", loginError(err))
	}
	id, ok := dataString(sec, "secret_id")
	if !ok || id == "" {
		return "", errors.New("unwrapping secret_id_file: the wrapped answer holds no secret_id (was it made by auth/approle/role/R/secret-id?)")
	}
	return id, nil
}

// dataString returns a string field of an answer's data.
func dataString(sec *api.Secret, key string) (string, bool) {
	if sec == nil || sec.Data == nil {
		return "", false
	}
	v, ok := sec.Data[key].(string)
	return v, ok
}
