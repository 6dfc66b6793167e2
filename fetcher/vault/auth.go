package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/backoff"
)

// session is one Vault token and what Vault said about its life. Sessions are replaced,
// never changed: a renewal makes a copy with the same gen, a login a new gen. Leases
// remember the gen that issued them, because Vault revokes a token's leases with it.
type session struct {
	gen       uint64
	token     fetcher.Value
	renewable bool
	increment time.Duration // what to ask for at each renewal: the TTL first granted
	expiry    time.Time     // zero: the token never expires (a root token)
	renewAt   time.Time     // when the renewer acts next
	final     bool          // a renewal was capped by the token's max TTL
	noRenew   bool          // nothing the renewer can do (a token-method token that cannot be renewed)
}

// header is the token as the request header carries it; the only place it is revealed.
func (s *session) header() string { return string(s.token.Reveal()) }

func (s *session) expired(now time.Time) bool {
	return !s.expiry.IsZero() && !now.Before(s.expiry)
}

// authenticator owns the token: it logs in (or reads the token) on first use, renews it at
// about 2/3 of its TTL, logs in again when renewal is refused or the token's max TTL is
// near, and re-reads a token file when it changes.
//
// No call to Vault is made under mu, which every Fetch takes: a renewal runs while reads go
// on with the current token, and a login runs in a goroutine of its own (one at a time,
// shared by every caller that needs it) that each caller waits for only as long as its own
// context allows. Every call has a deadline: the caller's, or callTimeout for the renewer's
// calls and for a login no caller waits for any more.
type authenticator struct {
	api         vaultAPI
	login       func() (loginRequest, error) // nil for the token method
	tokenFile   string                       // token method: re-read on every use
	envToken    string                       // token method without a file: VAULT_TOKEN
	callTimeout time.Duration
	log         *zap.Logger
	now         func() time.Time
	rnd         func() float64 // uniform in [0,1), for jitter

	sink *TokenSink // when set, every new token is written there (token_sink.go)

	life context.Context // ends at Close; logins run under it
	wg   sync.WaitGroup  // logins in flight

	mu     sync.Mutex // guards cur, gen and flight; never held across a call to Vault
	cur    *session
	gen    uint64
	flight *flight       // the login in progress, if any
	wake   chan struct{} // size 1: tells the renewer that cur changed
}

// flight is one login (or check of the configured token); done is closed when s or err is set.
type flight struct {
	done chan struct{}
	s    *session
	err  error
}

// current returns a usable session, logging in first if there is none or it expired.
func (a *authenticator) current(ctx context.Context) (*session, error) {
	a.mu.Lock()
	if a.cur != nil && a.login == nil && a.tokenFile != "" {
		// A read error keeps the current token: the file may be in the middle of a swap.
		if tok, err := readCredential(a.tokenFile, "token_file"); err == nil && tok != a.cur.header() {
			a.log.Info("vault token file changed; using the new token")
			a.cur = nil
		}
	}
	if a.cur != nil && !a.cur.expired(a.now()) {
		s := a.cur
		a.mu.Unlock()
		return s, nil
	}
	f := a.establishLocked()
	a.mu.Unlock()
	return a.await(ctx, f)
}

// recover is called after Vault refused stale's token on some path. It returns a new
// session to retry with, or nil when the token is fine and the refusal is the policy's.
func (a *authenticator) recover(ctx context.Context, stale *session) (*session, error) {
	if s := a.replaced(stale); s != nil {
		return s, nil // someone logged in again meanwhile
	}
	_, err := a.api.read(ctx, stale.header(), "auth/token/lookup-self", nil)
	if err == nil || !errors.Is(err, fetcher.ErrPermission) {
		return nil, nil
	}
	a.mu.Lock()
	if a.cur != nil && a.cur.gen != stale.gen {
		s := a.cur
		a.mu.Unlock()
		return s, nil
	}
	a.log.Info("vault token was rejected (revoked or expired); logging in again")
	a.cur = nil
	f := a.establishLocked()
	a.mu.Unlock()
	return a.await(ctx, f)
}

// replaced returns the current session if it is not stale's generation, else nil.
func (a *authenticator) replaced(stale *session) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != nil && a.cur.gen != stale.gen {
		return a.cur
	}
	return nil
}

// establishLocked returns the login in flight, or starts one. a.mu is held; the login
// itself runs without it, under callTimeout, and makes its session current when it succeeds.
func (a *authenticator) establishLocked() *flight {
	if a.flight != nil {
		return a.flight
	}
	f := &flight{done: make(chan struct{})}
	a.flight = f
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(a.life, a.callTimeout)
		var s *session
		var err error
		if a.login != nil {
			s, err = a.doLogin(ctx)
		} else {
			s, err = a.adoptToken(ctx)
		}
		cancel()
		a.mu.Lock()
		if err == nil {
			a.gen++
			s.gen = a.gen
			a.cur = s
			select {
			case a.wake <- struct{}{}:
			default:
			}
		}
		f.s, f.err = s, err
		a.flight = nil
		a.mu.Unlock()
		if err == nil && a.sink != nil {
			// A failed sink write does not fail the read: the secrets still flow, and the next
			// new token is written again; the app keeps the previous token until then.
			if werr := a.sink.write(s.token); werr != nil {
				a.log.Error("cannot write the vault token sink", zap.String("path", a.sink.Path), zap.Error(werr))
			}
		}
		close(f.done)
	}()
	return f
}

// await waits for f, or for ctx to end.
func (a *authenticator) await(ctx context.Context, f *flight) (*session, error) {
	select {
	case <-f.done:
		return f.s, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the vault login: %w", ctx.Err())
	}
}

func (a *authenticator) doLogin(ctx context.Context) (*session, error) {
	req, err := a.login()
	if err != nil {
		return nil, fmt.Errorf("logging in: %w", err)
	}
	if req.secretID != nil {
		id, err := req.secretID.get(ctx, a.api, a.log)
		if err != nil {
			return nil, fmt.Errorf("logging in: %w", err)
		}
		req.data["secret_id"] = id
	}
	sec, err := a.api.write(ctx, "", req.path, req.data)
	if err != nil {
		return nil, fmt.Errorf("logging in at %s: %w", req.path, loginError(err))
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return nil, fmt.Errorf("logging in at %s: the answer holds no token", req.path)
	}
	ttl := time.Duration(sec.Auth.LeaseDuration) * time.Second
	s := a.newSession(sec.Auth.ClientToken, ttl, sec.Auth.Renewable)
	a.log.Info("logged in to vault", zap.String("path", req.path), zap.Duration("ttl", ttl), zap.Bool("renewable", s.renewable))
	return s, nil
}

// loginError reports a refused login (any 4xx but 429) as an auth failure: Vault answers
// 400 for a wrong AppRole secret_id or an invalid JWT, 403 for a role that does not match.
func loginError(err error) error {
	var se *statusError
	if errors.As(err, &se) && se.status >= 400 && se.status < 500 && se.status != http.StatusTooManyRequests && se.kind == nil {
		se.kind = fetcher.ErrPermission
	}
	return err
}

// adoptToken takes the configured token and asks Vault about its life.
func (a *authenticator) adoptToken(ctx context.Context) (*session, error) {
	tok, from := a.envToken, "VAULT_TOKEN"
	if a.tokenFile != "" {
		var err error
		if tok, err = readCredential(a.tokenFile, "token_file"); err != nil {
			return nil, fmt.Errorf("%w: %w", fetcher.ErrPermission, err)
		}
		from = "token_file " + a.tokenFile
	}
	if tok == "" {
		return nil, fmt.Errorf("no vault token: set VAULT_TOKEN, or auth.token_file, or another auth.method: %w", fetcher.ErrPermission)
	}
	sec, err := a.api.read(ctx, tok, "auth/token/lookup-self", nil)
	if err != nil {
		return nil, fmt.Errorf("checking the token from %s: %w", from, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("checking the token from %s: empty answer", from)
	}
	ttl := durationField(sec.Data["ttl"])
	renewable, _ := sec.Data["renewable"].(bool)
	s := a.newSession(tok, ttl, renewable)
	if inc := durationField(sec.Data["creation_ttl"]); inc > 0 {
		s.increment = inc
	}
	if p := durationField(sec.Data["period"]); p > 0 {
		s.increment = p
	}
	a.log.Info("using vault token", zap.String("from", from), zap.Duration("ttl", ttl), zap.Bool("renewable", renewable))
	return s, nil
}

func (a *authenticator) newSession(token string, ttl time.Duration, renewable bool) *session {
	now := a.now()
	s := &session{token: fetcher.StringValue(token), renewable: renewable, increment: ttl}
	if ttl > 0 {
		s.expiry = now.Add(ttl)
		s.renewAt = now.Add(renewPoint(ttl, a.rnd()))
	}
	s.noRenew = a.login == nil && !renewable
	return s
}

// run renews the token until ctx ends. It sleeps until the current session's renewAt,
// or until a new session arrives, and backs off after a failure.
func (a *authenticator) run(ctx context.Context) {
	var failures int
	var retry time.Duration
	for {
		a.mu.Lock()
		s := a.cur
		a.mu.Unlock()
		var fire <-chan time.Time
		var timer *time.Timer
		if s != nil && !s.expiry.IsZero() && !s.noRenew {
			at := s.renewAt
			if retry > 0 {
				at = a.now().Add(scale(retry, 0.8+0.4*a.rnd()))
			}
			timer = time.NewTimer(at.Sub(a.now()))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			stopTimer(timer)
			return
		case <-a.wake:
			stopTimer(timer)
			failures, retry = 0, 0
			continue
		case <-fire:
		}
		if err := a.maintain(ctx, s); err != nil {
			failures++
			retry = renewRetry.Delay(failures - 1)
			if ctx.Err() == nil {
				a.log.Warn("vault token renewal failed; retrying", zap.Error(err), zap.Duration("retry_in", retry))
			}
		} else {
			failures, retry = 0, 0
		}
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// maintain renews s, or logs in again when Vault refuses the renewal or the token is near
// its max TTL. A network error is returned for a retry; the token stays in use meanwhile,
// and reads go on with it while the renewal or the login runs.
func (a *authenticator) maintain(ctx context.Context, s *session) error {
	a.mu.Lock()
	if a.cur == nil || a.cur.gen != s.gen {
		a.mu.Unlock()
		return nil // replaced meanwhile; the loop picks up the new one
	}
	s = a.cur
	a.mu.Unlock()
	if s.renewable && !s.final {
		cctx, cancel := context.WithTimeout(ctx, a.callTimeout)
		sec, err := a.api.write(cctx, s.header(), "auth/token/renew-self", map[string]any{"increment": int64(s.increment / time.Second)})
		cancel()
		switch {
		case err == nil && sec != nil && sec.Auth != nil:
			n := a.renewed(s, time.Duration(sec.Auth.LeaseDuration)*time.Second, sec.Auth.Renewable)
			a.mu.Lock()
			if a.cur != nil && a.cur.gen == s.gen {
				a.cur = n
			}
			a.mu.Unlock()
			return nil
		case err != nil && !refused(err):
			return fmt.Errorf("renewing the token: %w", err)
		}
		a.log.Info("vault refused to renew the token", zap.Error(err))
	}
	a.mu.Lock()
	if a.cur == nil || a.cur.gen != s.gen {
		a.mu.Unlock()
		return nil
	}
	if a.login == nil {
		n := *a.cur
		n.noRenew = true
		a.cur = &n
		a.mu.Unlock()
		a.log.Warn("the vault token cannot be renewed; replace it (token_file) before it expires", zap.Time("expires", s.expiry))
		return nil
	}
	f := a.establishLocked() // the current token stays in use until the login ends
	a.mu.Unlock()
	_, err := a.await(ctx, f)
	return err
}

// renewed is s after a renewal granted ttl. A grant shorter than asked means the token's
// max TTL is near: the next action is a fresh login (or, for a bare token, nothing).
func (a *authenticator) renewed(s *session, ttl time.Duration, renewable bool) *session {
	now := a.now()
	n := *s
	n.renewable = renewable
	n.expiry = now.Add(ttl)
	n.renewAt = now.Add(renewPoint(ttl, a.rnd()))
	n.final = capped(ttl, s.increment)
	if n.final && a.login == nil {
		n.noRenew = true
	}
	a.log.Debug("renewed vault token", zap.Duration("ttl", ttl), zap.Bool("near_max_ttl", n.final))
	return &n
}

// capped reports whether Vault granted noticeably less than asked (its max TTL cut it).
func capped(granted, asked time.Duration) bool {
	slack := asked / 20 // Vault grants whole seconds; anything shorter than asked by more was cut
	return granted < asked-slack
}

// refused reports whether Vault answered and said no (a 4xx other than 429), as opposed
// to being unreachable or failing.
func refused(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status >= 400 && se.status < 500 && se.status != http.StatusTooManyRequests
}

func scale(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

// renewPoint is when, into a token's TTL, the renewer acts: 2/3 of it, ±5%.
func renewPoint(ttl time.Duration, r float64) time.Duration { return scale(ttl, 0.617+0.10*r) }

// leaseDuePoint is when, into a lease's TTL, a read renews it: from 50% to 60%. The lease
// is renewed when the engine comes back, which it does at 2/3 of the TTL we report (±10%):
// due a little earlier, the lease is renewed on that first visit.
func leaseDuePoint(ttl time.Duration, r float64) time.Duration { return scale(ttl, 0.50+0.10*r) }

// renewRetry spaces renewal retries: 1s doubling to 1m. run spreads each by ±20% with
// a.rnd (which tests fix) rather than the policy's own jitter.
var renewRetry = backoff.Policy{Base: time.Second, Max: time.Minute}
