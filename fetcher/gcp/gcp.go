// Package gcp reads Google Secret Manager through the official client library
// (cloud.google.com/go/secretmanager/apiv1) with application default credentials.
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
	"log/slog"
	"net"
	"strings"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"go.uber.org/zap"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/patas/patas-secrets/fetcher"
)

// Options configures a backend.
type Options struct {
	// Project is used by short refs (gcp:NAME); full resource names carry their own.
	Project string
	// Location reads regional secrets: names gain locations/LOCATION and the client talks to
	// the regional endpoint secretmanager.LOCATION.rep.googleapis.com:443.
	Location string
	// Endpoint (host:port) replaces the Google endpoint: a private endpoint, or a test server.
	Endpoint string
	// Insecure talks plaintext gRPC without credentials. Only for a loopback Endpoint (tests).
	Insecure bool
	// ClientOptions are appended to the client's options (tests).
	ClientOptions []option.ClientOption
}

// accessor is the one call this backend makes, so tests can put a fake behind it.
type accessor interface {
	AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest, opts ...gax.CallOption) (*secretmanagerpb.AccessSecretVersionResponse, error)
	Close() error
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

// New creates the client. Credentials come from application default credentials
// (GOOGLE_APPLICATION_CREDENTIALS, Workload Identity / the metadata server, gcloud's ADC
// file), looked up here, so a machine without any fails now rather than at the first read.
func New(ctx context.Context, o Options, log *zap.Logger) (*Backend, error) {
	opts := []option.ClientOption{
		// The library logs requests and responses, payloads included, when
		// GOOGLE_SDK_GO_LOGGING_LEVEL=debug is set; a logger of our own turns that off.
		option.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if ep := endpoint(o); ep != "" {
		opts = append(opts, option.WithEndpoint(ep))
	}
	if o.Insecure {
		if !isLoopback(o.Endpoint) {
			return nil, fmt.Errorf("insecure needs a loopback endpoint (127.0.0.1:PORT), got %q", o.Endpoint)
		}
		opts = append(opts,
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	opts = append(opts, o.ClientOptions...)
	c, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Secret Manager client (application default credentials: Workload Identity, GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`): %w", err)
	}
	return newBackend(c, o, log), nil
}

// endpoint is the configured endpoint, else the regional one for a location, else "" (the
// library's global default, secretmanager.googleapis.com:443).
func endpoint(o Options) string {
	switch {
	case o.Endpoint != "":
		return o.Endpoint
	case o.Location != "":
		return "secretmanager." + o.Location + ".rep.googleapis.com:443"
	}
	return ""
}

func newBackend(c accessor, o Options, log *zap.Logger) *Backend {
	return &Backend{client: c, project: o.Project, location: o.Location, log: log}
}

// Fetch accesses one version. Value is the payload, Data its fields when it is a JSON
// object, Version the version number the service resolved. Created is left zero: it takes
// a second call (GetSecretVersion), which roles/secretmanager.secretAccessor does not allow.
func (b *Backend) Fetch(ctx context.Context, ref fetcher.Ref) (fetcher.Secret, error) {
	name, err := resourceName(ref.Path, ref.Version, b.project, b.location)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	var lastTry error
	resp, err := b.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name}, retry(&lastTry))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil || errors.Is(err, context.DeadlineExceeded) {
			if ctxErr == nil {
				ctxErr = err
			}
			if lastTry != nil {
				return fetcher.Secret{}, fmt.Errorf("%s: reading %s: %w (gave up retrying: %v)", ref, name, ctxErr, classify(lastTry))
			}
			return fetcher.Secret{}, fmt.Errorf("%s: reading %s: %w", ref, name, ctxErr)
		}
		return fetcher.Secret{}, fmt.Errorf("%s: reading %s: %w", ref, name, classify(err))
	}
	payload := resp.GetPayload()
	data := payload.GetData()
	if want := payload.DataCrc32C; want != nil && int64(crc32.Checksum(data, crcTable)) != *want {
		return fetcher.Secret{}, fmt.Errorf("%s: reading %s: %w", ref, resp.GetName(), ErrChecksum)
	}
	fields, err := fetcher.ParseJSONObject(data)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: payload of %s: %w", ref, resp.GetName(), err)
	}
	v := versionID(resp.GetName())
	b.log.Debug("accessed secret version", zap.String("name", name), zap.String("version", v),
		zap.Bool("crc32c_checked", payload.DataCrc32C != nil))
	return fetcher.Secret{Value: fetcher.NewValue(data), Data: fields, Version: v}, nil
}

// retry retries what the library retries by default (UNAVAILABLE, RESOURCE_EXHAUSTED) until
// ctx ends, from a shorter first pause than its 2s, and remembers the last failure: the
// library reports only the context's error when it gives up, hiding why.
func retry(last *error) gax.CallOption {
	return gax.WithRetry(func() gax.Retryer {
		r := gax.OnCodes([]codes.Code{codes.Unavailable, codes.ResourceExhausted},
			gax.Backoff{Initial: 250 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2})
		return retryerFunc(func(err error) (time.Duration, bool) {
			*last = err
			return r.Retry(err)
		})
	})
}

type retryerFunc func(error) (time.Duration, bool)

func (f retryerFunc) Retry(err error) (time.Duration, bool) { return f(err) }

// Close closes the client's connections.
func (b *Backend) Close() error { return b.client.Close() }

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
