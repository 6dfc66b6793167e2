package vault

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
)

var _ fetcher.Versioned = (*Client)(nil)

// Previous reads, for a KV version 2 secret, the newest version older than current that is
// neither deleted nor destroyed, with its created_time. It finds it in the secret's
// metadata (policy: read on <mount>/metadata/<path>); a token that may not read metadata
// gets the version just before current, which fails with ErrNotFound if it was deleted.
// Other engines and KV version 1 keep no versions: errors.ErrUnsupported.
func (c *Client) Previous(ctx context.Context, ref fetcher.Ref, current fetcher.Secret) (fetcher.Secret, error) {
	ref.Path = strings.Trim(ref.Path, "/")
	if ref.Version != "" {
		return fetcher.Secret{}, fmt.Errorf("previous version of %s: %w: the ref is pinned", ref, errors.ErrUnsupported)
	}
	s, err := c.auth.current(ctx)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("previous version of %s: %w", ref, err)
	}
	m, err := c.mountOf(ctx, s, ref.Path)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("previous version of %s: %w", ref, err)
	}
	if m.kv != 2 {
		return fetcher.Secret{}, fmt.Errorf("previous version of %s: %w: only KV version 2 keeps versions (mount %s is %s)", ref, errors.ErrUnsupported, m.path, m.describe())
	}
	n, err := strconv.Atoi(current.Version)
	if err != nil || n < 1 {
		return fetcher.Secret{}, fmt.Errorf("previous version of %s: current version %q is not a KV version number", ref, current.Version)
	}
	prev, err := c.previousVersion(ctx, s, m, ref.Path, n)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("previous version of %s: %w", ref, err)
	}
	ref.Version = strconv.Itoa(prev)
	sec, err := c.readKV(ctx, s, m, ref)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	return sec, nil
}

// previousVersion returns the newest version below n that is neither deleted nor destroyed.
func (c *Client) previousVersion(ctx context.Context, s *session, m mount, path string, n int) (int, error) {
	sec, err := c.api.read(ctx, s.header(), kvV2Path(path, m.path, "metadata"), nil)
	if errors.Is(err, fetcher.ErrPermission) {
		if n <= 1 {
			return 0, fmt.Errorf("version %d is the first: %w", n, fetcher.ErrNotFound)
		}
		return n - 1, nil // the policy does not grant metadata: take the one before
	}
	if err != nil {
		return 0, fmt.Errorf("reading its metadata: %w", err)
	}
	var versions map[string]any
	if sec != nil && sec.Data != nil {
		versions, _ = sec.Data["versions"].(map[string]any)
	}
	best := 0
	for k, v := range versions {
		num, err := strconv.Atoi(k)
		meta, _ := v.(map[string]any)
		if err != nil || num >= n || num <= best || meta == nil {
			continue
		}
		if destroyed, _ := meta["destroyed"].(bool); destroyed || scalarString(meta["deletion_time"]) != "" {
			continue
		}
		best = num
	}
	if best == 0 {
		return 0, fmt.Errorf("no version before %d that is neither deleted nor destroyed: %w", n, fetcher.ErrNotFound)
	}
	return best, nil
}
