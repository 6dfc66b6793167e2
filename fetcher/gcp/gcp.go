// Package gcp reads Google Secret Manager: the REST form of AccessSecretVersion
// (GET https://secretmanager.googleapis.com/v1/{name}:access) with application default
// credentials from Google's golang.org/x/oauth2/google.
//
// Refs: gcp:NAME[#key][@N] (the backend's project and location), or a full resource name
// gcp:projects/P/secrets/S[/versions/V] or gcp:projects/P/locations/L/secrets/S[/versions/V].
// Without a version the `latest` alias is read: the most recently created version, which
// the service refuses (ErrVersionDisabled, ErrVersionDestroyed) when it is not enabled.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/backoff"
)

// Options configures a backend.
type Options struct {
	// Project is used by short refs (gcp:NAME); full resource names carry their own.
	Project string
	// Location reads regional secrets: names gain locations/LOCATION and the client talks to
	// the regional endpoint https://secretmanager.LOCATION.rep.googleapis.com.
	Location string
	// Endpoint (host:port) replaces the Google endpoint: a private endpoint, or a test server.
	Endpoint string
	// Insecure talks plaintext HTTP without credentials. Only for a loopback Endpoint (tests).
	Insecure bool
	// HTTPClient replaces the base client that credentials are added to (tests: one that
	// trusts a test server's certificate). Nil: http.DefaultTransport.
	HTTPClient *http.Client
}

// accessor is the one call this backend makes, so tests can put a fake behind it.
type accessor interface {
	access(ctx context.Context, name string) (*accessResponse, error)
}

// Backend is one Secret Manager client, shared by every read of a backend entry.
type Backend struct {
	client   accessor
	project  string
	location string
	log      *zap.Logger
}

var _ fetcher.Backend = (*Backend)(nil)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// scope is the OAuth scope Secret Manager accepts.
const scope = "https://www.googleapis.com/auth/cloud-platform"

// adcHint says where credentials come from, in errors about them.
const adcHint = "application default credentials: Workload Identity, GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`"

// New creates the client. Credentials come from application default credentials
// (GOOGLE_APPLICATION_CREDENTIALS, Workload Identity / the metadata server, gcloud's ADC
// file), looked up here, so a machine without any fails now rather than at the first read.
func New(ctx context.Context, o Options, log *zap.Logger) (*Backend, error) {
	ep := endpoint(o)
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{Transport: http.DefaultTransport}
	}
	c := &restClient{base: basePath(ep, o.Insecure)}
	if o.Insecure {
		if !isLoopback(o.Endpoint) {
			return nil, fmt.Errorf("insecure needs a loopback endpoint (127.0.0.1:PORT), got %q", o.Endpoint)
		}
		c.http = base
		return newBackend(c, o, log), nil
	}
	// The token source keeps this context for its token requests for the life of the
	// backend: it must not end with New's caller.
	tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, base)
	creds, err := google.FindDefaultCredentials(tctx, scope)
	if err != nil {
		return nil, fmt.Errorf("creating the Secret Manager client (%s): %w", adcHint, err)
	}
	c.http = &http.Client{Transport: &oauth2.Transport{Source: tokenSource{creds.TokenSource}, Base: base.Transport}}
	return newBackend(c, o, log), nil
}

// tokenSource marks failures to get an access token, so that they are reported as a
// credentials problem rather than an outage of the service.
type tokenSource struct{ oauth2.TokenSource }

var errToken = errors.New("no access token from the " + adcHint)

func (t tokenSource) Token() (*oauth2.Token, error) {
	tok, err := t.TokenSource.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errToken, err)
	}
	return tok, nil
}

// endpoint is the configured endpoint, else the regional one for a location, else the
// global one.
func endpoint(o Options) string {
	switch {
	case o.Endpoint != "":
		return o.Endpoint
	case o.Location != "":
		return "secretmanager." + o.Location + ".rep.googleapis.com"
	}
	return "secretmanager.googleapis.com"
}

func newBackend(c accessor, o Options, log *zap.Logger) *Backend {
	return &Backend{client: c, project: o.Project, location: o.Location, log: log}
}

// Fetch accesses one version. Value is the payload, Data its fields when it is a JSON
// object, Version the version number the service resolved. Created is left zero: it takes
// a second call (GetSecretVersion), which roles/secretmanager.secretAccessor does not allow.
func (b *Backend) Fetch(ctx context.Context, ref fetcher.Ref) (fetcher.Secret, error) {
	name, err := resourceName(ref, b.project, b.location)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	resp, err := b.accessRetrying(ctx, name)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: reading %s: %w", ref, name, err)
	}
	data := resp.Payload.Data
	if want := resp.Payload.DataCrc32C; want != nil && int64(crc32.Checksum(data, crcTable)) != int64(*want) {
		return fetcher.Secret{}, fmt.Errorf("%s: reading %s: %w", ref, resp.Name, ErrChecksum)
	}
	fields, err := fetcher.ParseJSONObject(data)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: payload of %s: %w", ref, resp.Name, err)
	}
	v := versionID(resp.Name)
	b.log.Debug("accessed secret version", zap.String("name", name), zap.String("version", v),
		zap.Bool("crc32c_checked", resp.Payload.DataCrc32C != nil))
	return fetcher.Secret{Value: fetcher.NewValue(data), Data: fields, Version: v}, nil
}

// retryPause spaces retries of UNAVAILABLE and unreachable endpoints: from 250 ms, doubling,
// at most 10 s, ±20% so that sidecars cut off together do not come back together.
var retryPause = backoff.Policy{Base: 250 * time.Millisecond, Max: 10 * time.Second, Spread: 0.2}

// accessRetrying retries what the client library retried by default for this call
// (UNAVAILABLE, and a connection that fails, which gRPC reports as UNAVAILABLE) until ctx
// ends, and then names the last failure, not only the context's error. RESOURCE_EXHAUSTED
// (HTTP 429) is not retried here: it is fetcher.ErrThrottled at once, so the engine's backoff
// spaces the next attempt instead of this call hammering a quota until its deadline.
func (b *Backend) accessRetrying(ctx context.Context, name string) (*accessResponse, error) {
	for n := 0; ; n++ {
		resp, err := b.client.access(ctx, name)
		if err == nil {
			return resp, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, giveUp(ctxErr, err)
		}
		if !retryable(err) {
			return nil, classify(err)
		}
		if backoff.Wait(ctx, retryPause.Delay(n)) != nil {
			return nil, giveUp(ctx.Err(), err)
		}
	}
}

// giveUp reports ctx's end with the last failure; a failure that is only the context's own
// (the call was cut short by it) is not repeated.
func giveUp(ctxErr, last error) error {
	if errors.Is(last, context.Canceled) || errors.Is(last, context.DeadlineExceeded) {
		return ctxErr
	}
	return fmt.Errorf("%w (gave up retrying: %v)", ctxErr, classify(last))
}

// retryable: the service is unavailable, or the endpoint could not be reached or answered
// nothing. Not a refused token, not a checksum or decoding problem.
func retryable(err error) bool {
	var api *apiError
	if errors.As(err, &api) {
		return api.Status == "UNAVAILABLE" || api.HTTP == http.StatusServiceUnavailable || api.HTTP == http.StatusBadGateway
	}
	if errors.Is(err, errToken) {
		return false
	}
	// Refused, reset or cut connections; not TLS verification or a bad URL, which stay wrong.
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// Close releases idle connections.
func (b *Backend) Close() error {
	if c, ok := b.client.(*restClient); ok {
		c.http.CloseIdleConnections()
	}
	return nil
}

// isLoopback reports whether endpoint (host:port) is on this machine: the only place a
// plaintext endpoint is allowed.
func isLoopback(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
