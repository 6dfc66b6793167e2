package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// lease is the cached answer of a dynamic secret (database/creds/patas): one set of
// credentials, served to every read until it is due for renewal, so that a template's
// username and password always come from the same lease.
type lease struct {
	lock      chan struct{} // size 1, held while this path is issued or renewed; waited on with the read's context
	id        string
	gen       uint64 // the session that issued it: Vault revokes leases with their token
	data      map[string]fetcher.Value
	issued    time.Time
	renewable bool
	increment time.Duration // the TTL first granted: what each renewal asks for
	expiry    time.Time
	renewAt   time.Time
}

func (c *Client) leaseFor(path string) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leases[path]
	if l == nil {
		l = &lease{lock: make(chan struct{}, 1)}
		c.leases[path] = l
	}
	return l
}

// readDynamic reads a path of a non-KV engine. A lease is reused until it is due (see
// leaseDuePoint), then renewed; it is issued anew when renewal is refused, when Vault caps the renewal
// (max_ttl is near: the old credentials stay valid for what is left, the new ones reach the
// outputs now), when it expired, or when it was issued under a token that was replaced.
func (c *Client) readDynamic(ctx context.Context, s *session, ref fetcher.Ref) (fetcher.Secret, error) {
	if ref.Version != "" {
		return fetcher.Secret{}, fmt.Errorf("%s is not a KV secret: versions (@%s) apply to KV version 2 only", ref.Path, ref.Version)
	}
	l := c.leaseFor(ref.Path)
	select {
	case l.lock <- struct{}{}:
	case <-ctx.Done():
		return fetcher.Secret{}, fmt.Errorf("waiting for another read of %s: %w", ref.Path, ctx.Err())
	}
	defer func() { <-l.lock }()
	now := c.now()
	log := c.log.With(zap.String("path", ref.Path))
	switch {
	case l.id == "" || l.gen != s.gen || !now.Before(l.expiry):
		// issue below
	case now.Before(l.renewAt):
		return l.secret(now, s), nil
	case l.renewable:
		fresh, err := c.renewLease(ctx, s, l, now)
		if err == nil && fresh {
			return l.secret(now, s), nil
		}
		if err != nil && !refused(err) {
			// Vault unreachable: the credentials still work until expiry; the engine comes
			// back at 2/3 of what is left.
			log.Warn("renewing a vault lease failed; keeping the current credentials", zap.Error(err), zap.Time("expires", l.expiry))
			return l.secret(now, s), nil
		}
		if err != nil {
			log.Info("vault refused to renew the lease; issuing new credentials", zap.Error(err))
		} else {
			log.Info("vault lease is near its max TTL; issuing new credentials", zap.Time("old_expires", l.expiry))
		}
	}
	return c.issue(ctx, s, ref, l, now)
}

// issue reads the path and, when the answer carries a lease, caches it in l.
func (c *Client) issue(ctx context.Context, s *session, ref fetcher.Ref, l *lease, now time.Time) (fetcher.Secret, error) {
	sec, err := c.api.read(ctx, s.header(), ref.Path, nil)
	if err != nil {
		return fetcher.Secret{}, err
	}
	if sec == nil || sec.Data == nil {
		return fetcher.Secret{}, fetcher.ErrNotFound
	}
	ttl := time.Duration(sec.LeaseDuration) * time.Second
	if sec.LeaseID == "" || ttl <= 0 {
		*l = lease{lock: l.lock} // not a lease: nothing to keep
		return fetcher.Secret{Data: toValues(sec.Data), RotatesIn: rotatesIn(sec.Data)}, nil
	}
	l.id, l.gen, l.data = sec.LeaseID, s.gen, toValues(sec.Data)
	l.issued, l.renewable, l.increment = now, sec.Renewable, ttl
	l.expiry = now.Add(ttl)
	l.renewAt = now.Add(leaseDuePoint(ttl, c.rnd()))
	c.log.Info("issued vault lease", zap.String("path", ref.Path), zap.String("lease_id", l.id), zap.Duration("ttl", ttl), zap.Bool("renewable", l.renewable))
	return l.secret(now, s), nil
}

// renewLease extends l. fresh is false when Vault granted less than asked: max_ttl is near
// and the lease should be replaced while the old one still works.
func (c *Client) renewLease(ctx context.Context, s *session, l *lease, now time.Time) (fresh bool, err error) {
	sec, err := c.api.write(ctx, s.header(), "sys/leases/renew", map[string]any{
		"lease_id":  l.id,
		"increment": int64(l.increment / time.Second),
	})
	if err != nil {
		return false, fmt.Errorf("renewing lease %s: %w", l.id, err)
	}
	if sec == nil {
		return false, fmt.Errorf("renewing lease %s: empty answer", l.id)
	}
	ttl := time.Duration(sec.LeaseDuration) * time.Second
	l.expiry = now.Add(ttl)
	l.renewable = sec.Renewable
	l.renewAt = now.Add(leaseDuePoint(ttl, c.rnd()))
	if capped(ttl, l.increment) {
		return false, nil
	}
	c.log.Debug("renewed vault lease", zap.String("lease_id", l.id), zap.Duration("ttl", ttl))
	return true, nil
}

// secret is l as the engine sees it. TTL is how long the credentials stay valid: until the
// lease ends, or the token that issued it does, whichever is first.
func (l *lease) secret(now time.Time, s *session) fetcher.Secret {
	end := l.expiry
	if !s.expiry.IsZero() && s.expiry.Before(end) {
		end = s.expiry
	}
	return fetcher.Secret{
		Data:    l.data,
		Version: l.id,
		Created: l.issued,
		TTL:     max(end.Sub(now), time.Second),
	}
}

// rotatesIn reads when Vault itself replaces a secret that has no lease: a static role
// (database/static-creds, ldap/static-cred) answers with rotation_period and ttl, the
// seconds until its next rotation. A ttl of 0 means the rotation is due and Vault's queue
// has not run it yet: one second, so the engine asks again soon. 0 for any other answer.
func rotatesIn(data map[string]any) time.Duration {
	if _, ok := data["rotation_period"]; !ok {
		return 0
	}
	n, ok := data["ttl"].(json.Number)
	if !ok {
		return 0
	}
	secs, err := n.Int64()
	if err != nil || secs < 0 {
		return 0
	}
	return max(time.Duration(secs)*time.Second, time.Second)
}
