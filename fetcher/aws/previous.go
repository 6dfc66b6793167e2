package aws

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/patas/patas-secrets/fetcher"
)

var _ fetcher.Versioned = (*Client)(nil)

// Previous reads the version before current: for a Secrets Manager secret the version
// labelled AWSPREVIOUS (Secrets Manager moves that label to the old version whenever a new
// one becomes AWSCURRENT, by PutSecretValue or by rotation), for an SSM parameter the
// version number before current's. Both carry their creation date. An SSM path, and a ref
// pinned to a version, have no previous version to speak of: errors.ErrUnsupported.
func (c *Client) Previous(ctx context.Context, ref fetcher.Ref, current fetcher.Secret) (fetcher.Secret, error) {
	t, err := parseTarget(ref)
	if err != nil {
		return fetcher.Secret{}, err
	}
	if !t.batchable() && !(t.kind == parameterKind && t.selector == "") {
		return fetcher.Secret{}, fmt.Errorf("%s: %w: no previous version of a path or a pinned version", t.describe(), errors.ErrUnsupported)
	}
	if t.kind == parameterKind {
		n, err := strconv.ParseInt(current.Version, 10, 64)
		if err != nil || n < 1 {
			return fetcher.Secret{}, fmt.Errorf("%s: current version %q is not a number", t.describe(), current.Version)
		}
		if n == 1 {
			return fetcher.Secret{}, fmt.Errorf("%s: version 1 is the first: %w", t.describe(), fetcher.ErrNotFound)
		}
		t.selector = strconv.FormatInt(n-1, 10)
		r := c.readParameter(ctx, t)
		return r.Secret, r.Err
	}
	t.stage = "AWSPREVIOUS"
	r := c.readSecret(ctx, t)
	if r.Err != nil {
		return fetcher.Secret{}, r.Err
	}
	if r.Secret.Version == current.Version {
		// The secret was rotated twice between the two reads; its AWSPREVIOUS is current.
		return fetcher.Secret{}, fmt.Errorf("%s: AWSPREVIOUS is the version just read: %w", t.describe(), fetcher.ErrNotFound)
	}
	return r.Secret, nil
}
