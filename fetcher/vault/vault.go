// Package vault reads secrets from HashiCorp Vault: KV version 1 and 2 (the mount and its
// version found the way the `vault kv` CLI finds them) and dynamic secrets with leases
// (database/creds/...), with token, AppRole, Kubernetes or JWT authentication.
//
// One Client serves every ref of a backend with one HTTP client and one token. A
// goroutine owned by the Client renews the token; leases are renewed when the engine
// comes back for them, which it does at about 2/3 of the TTL each Secret reports.
package vault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

var _ fetcher.Backend = (*Client)(nil)

// Options configures a Client. Empty fields fall back to the standard Vault environment
// variables (VAULT_ADDR, VAULT_NAMESPACE, VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT,
// VAULT_CLIENT_KEY, VAULT_TLS_SERVER_NAME, VAULT_SKIP_VERIFY, VAULT_CLIENT_TIMEOUT,
// VAULT_MAX_RETRIES, VAULT_TOKEN, …), as the vault CLI reads them.
type Options struct {
	Address       string
	Namespace     string
	CACert        string
	CAPath        string
	ClientCert    string
	ClientKey     string
	TLSServerName string
	TLSSkipVerify bool
	// RequireTLS refuses an http:// address and disabled certificate verification,
	// whichever way they were set (production without allow_insecure).
	RequireTLS bool
	Auth       Auth
	// PKI says what each MOUNT/issue/ROLE path read as a secret asks Vault for (pki.go).
	PKI map[string]PKIRequest
	// CallTimeout bounds each call to Vault that no read's context bounds (token renewal,
	// a login nobody waits for any more) and each HTTP attempt (the client's timeout);
	// default DefaultCallTimeout. Reads are bounded by their own context as well.
	CallTimeout time.Duration
}

// DefaultCallTimeout is Options.CallTimeout's default: the engine's default fetch timeout.
const DefaultCallTimeout = 30 * time.Second

// Client is a fetcher.Backend over one Vault server. Safe for concurrent use.
type Client struct {
	api  vaultAPI
	auth *authenticator
	log  *zap.Logger
	now  func() time.Time
	rnd  func() float64

	mu      sync.Mutex
	lookup  sync.Mutex       // one mount lookup at a time: concurrent misses wait for its answer
	mounts  map[string]mount // by secret path
	byMount map[string]mount // by mount path ("secret/"), for paths not yet seen
	leases  map[string]*lease
	certs   map[string]*issuedCert // pki.go
	pki     map[string]PKIRequest  // pki/issue/ROLE path -> what to ask for

	stop      context.CancelFunc
	done      chan struct{}
	closeIdle func() // of the HTTP client; nil for a fake
	closeOnce sync.Once
}

// New builds the client; it does not contact Vault (the first Fetch logs in), so a Vault
// that is down at start-up is retried by the engine like any other outage.
func New(opts Options, log *zap.Logger) (*Client, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("reading the VAULT_* environment: %w", cfg.Error)
	}
	if opts.Address != "" {
		cfg.Address = opts.Address
	}
	tls := &api.TLSConfig{
		CACert: opts.CACert, CAPath: opts.CAPath,
		ClientCert: opts.ClientCert, ClientKey: opts.ClientKey,
		TLSServerName: opts.TLSServerName, Insecure: opts.TLSSkipVerify,
	}
	if err := cfg.ConfigureTLS(tls); err != nil {
		return nil, fmt.Errorf("configuring TLS: %w", err)
	}
	if opts.RequireTLS {
		if err := requireTLS(cfg); err != nil {
			return nil, err
		}
	}
	callTimeout := opts.CallTimeout
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	if cfg.Timeout <= 0 || cfg.Timeout > callTimeout {
		cfg.Timeout = callTimeout // VAULT_CLIENT_TIMEOUT may ask for less, never more
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the vault client: %w", err)
	}
	c.SetWrappingLookupFunc(nil) // VAULT_WRAP_TTL would wrap every answer we read
	if opts.Namespace != "" {
		c.SetNamespace(opts.Namespace)
	}
	envToken := c.Token()
	c.ClearToken() // each request carries its session's token
	login, err := loginFor(opts.Auth)
	if err != nil {
		return nil, err
	}
	a := &authenticator{login: login, sink: opts.Auth.TokenSink, callTimeout: callTimeout}
	if login == nil {
		a.tokenFile, a.envToken = opts.Auth.TokenFile, envToken
	}
	client := newClient(newHTTPAPI(c), a, log)
	client.pki = opts.PKI
	client.closeIdle = cfg.HttpClient.CloseIdleConnections
	return client, nil
}

// requireTLS refuses settings that send the token in clear or to an unverified server.
func requireTLS(cfg *api.Config) error {
	if strings.HasPrefix(strings.ToLower(cfg.Address), "http://") {
		return fmt.Errorf("vault address %s is plain http in production; use https (or allow_insecure: true)", cfg.Address)
	}
	if t, ok := cfg.HttpClient.Transport.(*http.Transport); ok && t.TLSClientConfig != nil && t.TLSClientConfig.InsecureSkipVerify {
		return errors.New("vault TLS verification is disabled (tls_skip_verify or VAULT_SKIP_VERIFY) in production; set ca_cert (or allow_insecure: true)")
	}
	return nil
}

// newClient wires a client around any vaultAPI (the real one or a test fake) and starts
// the token renewer, which Close stops.
func newClient(v vaultAPI, a *authenticator, log *zap.Logger) *Client {
	if log == nil {
		log = zap.NewNop()
	}
	c := &Client{
		api:     v,
		auth:    a,
		log:     log,
		now:     time.Now,
		rnd:     rand.Float64,
		mounts:  map[string]mount{},
		byMount: map[string]mount{},
		leases:  map[string]*lease{},
		done:    make(chan struct{}),
	}
	a.api, a.log, a.now, a.rnd = v, log, c.now, c.rnd
	a.wake = make(chan struct{}, 1)
	if a.callTimeout <= 0 {
		a.callTimeout = DefaultCallTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.life = ctx
	c.stop = cancel
	go func() {
		defer close(c.done)
		a.run(ctx)
	}()
	return c
}

// Fetch reads ref.Path (ref.Key is left to the caller). For KV version 2, ref.Version
// pins a version. An auth failure wraps fetcher.ErrPermission, a missing secret or
// version fetcher.ErrNotFound; other errors are network or server trouble.
func (c *Client) Fetch(ctx context.Context, ref fetcher.Ref) (fetcher.Secret, error) {
	ref, err := parseRef(ref)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	s, err := c.auth.current(ctx)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	sec, err := c.fetchAs(ctx, s, ref)
	if errors.Is(err, fetcher.ErrPermission) {
		// Revoked or expired token, or a policy that does not allow the path?
		ns, rerr := c.auth.recover(ctx, s)
		switch {
		case rerr != nil:
			err = rerr
		case ns != nil:
			sec, err = c.fetchAs(ctx, ns, ref)
		}
	}
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	return sec, nil
}

func (c *Client) fetchAs(ctx context.Context, s *session, ref fetcher.Ref) (fetcher.Secret, error) {
	m, err := c.mountOf(ctx, s, ref.Path)
	if err != nil {
		return fetcher.Secret{}, err
	}
	var sec fetcher.Secret
	switch {
	case m.kv > 0:
		sec, err = c.readKV(ctx, s, m, ref)
	case isPKIIssue(m, ref.Path):
		sec, err = c.readPKI(ctx, s, ref)
	default:
		sec, err = c.readDynamic(ctx, s, ref)
	}
	if err != nil {
		c.forgetMount(ref.Path) // it may have moved; ask again next time
	}
	return sec, err
}

// mountOf returns the mount serving path. Vault is asked once per mount: a path under a
// mount already seen (Vault refuses nested mounts, so the prefix decides) is served from
// memory, so the first refresh of n secrets under one mount makes n+2 requests (token
// check, one preflight, n reads), not 2n+1.
func (c *Client) mountOf(ctx context.Context, s *session, path string) (mount, error) {
	cached := func() (mount, bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if m, ok := c.mounts[path]; ok {
			return m, true
		}
		return c.mountByPrefix(path)
	}
	if m, ok := cached(); ok {
		return m, nil
	}
	// The engine reads several secrets at once: without this, each concurrent miss of a
	// first refresh asked Vault before the first answer was cached (8 lookups, not 1,
	// counted by bench/ in front of a real Vault).
	c.lookup.Lock()
	defer c.lookup.Unlock()
	if m, ok := cached(); ok {
		return m, nil
	}
	m, err := c.detectMount(ctx, s, path)
	if err != nil {
		return mount{}, err
	}
	c.mu.Lock()
	c.mounts[path] = m
	if m.path != "" {
		c.byMount[m.path] = m
	}
	c.mu.Unlock()
	return m, nil
}

// mountByPrefix finds the longest known mount path that path lies under. c.mu is held.
func (c *Client) mountByPrefix(path string) (mount, bool) {
	var best mount
	for p, m := range c.byMount {
		if strings.HasPrefix(path+"/", p) && len(p) > len(best.path) {
			best = m
		}
	}
	return best, best.path != ""
}

func (c *Client) forgetMount(path string) {
	c.mu.Lock()
	delete(c.mounts, path)
	if m, ok := c.mountByPrefix(path); ok {
		delete(c.byMount, m.path) // it may have moved or been re-mounted: ask again
	}
	c.mu.Unlock()
}

// Close stops the token renewer and any login in flight. Leases are left to expire: the application may still be
// using their credentials while it shuts down.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.stop()
		<-c.done
		c.auth.wg.Wait() // a login in flight ends with the context stop cancelled
		if c.closeIdle != nil {
			c.closeIdle()
		}
	})
	return nil
}
