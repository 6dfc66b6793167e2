package gcp

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/codes"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv/gcpsm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// canary is planted in payloads; no error or log line may ever contain it.
const canary = "CANARY-7f3e9a-do-not-leak"

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// newTestBackend returns a backend for srv logging at debug level into a buffer that the
// test checks for the canary when it ends.
func newTestBackend(t *testing.T, srv *gcpsm.Server, o Options) *Backend {
	t.Helper()
	logs := &syncBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zap.DebugLevel))
	o.Endpoint = srv.Addr
	o.Insecure = true
	b, err := New(context.Background(), o, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if strings.Contains(logs.String(), canary) {
			t.Errorf("a log line contains the secret value:\n%s", logs.String())
		}
	})
	return b
}

func ref(t *testing.T, s string) fetcher.Ref {
	t.Helper()
	r, err := fetcher.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fetchErr fetches a ref that must fail and checks that the error does not carry the canary.
func fetchErr(t *testing.T, b *Backend, s string) error {
	t.Helper()
	_, err := b.Fetch(context.Background(), ref(t, s))
	if err == nil {
		t.Fatalf("Fetch(%s) succeeded, want an error", s)
	}
	if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "do-not-leak") {
		t.Fatalf("the error of %s contains the secret value: %v", s, err)
	}
	return err
}

func fetchValue(t *testing.T, b *Backend, s string) (string, fetcher.Secret) {
	t.Helper()
	sec, err := b.Fetch(context.Background(), ref(t, s))
	if err != nil {
		t.Fatalf("Fetch(%s): %v", s, err)
	}
	return string(sec.Value.Reveal()), sec
}

func TestLatestAndPinnedVersions(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "my-project", "patas-database-url", []byte("postgresql://v1"))
	srv.AddVersion(t, "my-project", "patas-database-url", []byte("postgresql://v2-"+canary))
	b := newTestBackend(t, srv, Options{Project: "my-project"})
	number := srv.ProjectNumber("my-project")

	tests := []struct{ ref, want, version string }{
		{"gcp:patas-database-url", "postgresql://v2-" + canary, "2"},
		{"gcp:patas-database-url@latest", "postgresql://v2-" + canary, "2"},
		{"gcp:patas-database-url@1", "postgresql://v1", "1"},
		{"gcp:projects/my-project/secrets/patas-database-url/versions/latest", "postgresql://v2-" + canary, "2"},
		{"gcp:projects/my-project/secrets/patas-database-url/versions/1", "postgresql://v1", "1"},
		{"gcp:projects/my-project/secrets/patas-database-url@1", "postgresql://v1", "1"},
		{"gcp:projects/" + number + "/secrets/patas-database-url", "postgresql://v2-" + canary, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, sec := fetchValue(t, b, tt.ref)
			if got != tt.want || sec.Version != tt.version {
				t.Fatalf("got %q version %q, want %q version %q", got, sec.Version, tt.want, tt.version)
			}
			if sec.Data != nil {
				t.Errorf("Data = %v for a plain payload, want nil", sec.Keys())
			}
		})
	}

	// A new version is what latest reads next.
	srv.AddVersion(t, "my-project", "patas-database-url", []byte("postgresql://v3"))
	if got, sec := fetchValue(t, b, "gcp:patas-database-url"); got != "postgresql://v3" || sec.Version != "3" {
		t.Fatalf("after a new version: got %q version %q, want postgresql://v3 version 3", got, sec.Version)
	}
}

func TestDisabledVersion(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "api-keys", []byte("old"))
	srv.AddVersion(t, "p", "api-keys", []byte(canary))
	srv.SetState(t, "p", "api-keys", 2, secretmanagerpb.SecretVersion_DISABLED)
	b := newTestBackend(t, srv, Options{Project: "p"})

	// latest is the newest version whatever its state: the service refuses it.
	for _, r := range []string{"gcp:api-keys", "gcp:api-keys@2"} {
		err := fetchErr(t, b, r)
		if !errors.Is(err, ErrVersionDisabled) || errors.Is(err, fetcher.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrVersionDisabled (not ErrNotFound)", r, err)
		}
		if !strings.Contains(err.Error(), "versions/2") {
			t.Errorf("%s: error %q does not name the version", r, err)
		}
	}
	if got, _ := fetchValue(t, b, "gcp:api-keys@1"); got != "old" {
		t.Errorf("pinned enabled version: got %q, want old", got)
	}
	srv.SetState(t, "p", "api-keys", 2, secretmanagerpb.SecretVersion_ENABLED)
	if got, _ := fetchValue(t, b, "gcp:api-keys"); got != canary {
		t.Error("re-enabled latest version: got a different value")
	}
}

func TestDestroyedVersion(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "llm-key", []byte("kept"))
	srv.AddVersion(t, "p", "llm-key", []byte(canary))
	srv.SetState(t, "p", "llm-key", 2, secretmanagerpb.SecretVersion_DESTROYED)
	b := newTestBackend(t, srv, Options{Project: "p"})

	for _, r := range []string{"gcp:llm-key", "gcp:llm-key@2"} {
		if err := fetchErr(t, b, r); !errors.Is(err, ErrVersionDestroyed) {
			t.Errorf("%s: got %v, want ErrVersionDestroyed", r, err)
		}
	}
	if got, _ := fetchValue(t, b, "gcp:llm-key@1"); got != "kept" {
		t.Errorf("got %q, want kept", got)
	}
}

func TestChecksum(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "s", []byte(canary))
	b := newTestBackend(t, srv, Options{Project: "p"})

	wrong := gcpsm.CRC32C([]byte(canary)) + 1
	srv.SetCRC(t, "p", "s", 1, &wrong)
	if err := fetchErr(t, b, "gcp:s"); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
	// Versions without a stored checksum (old CMEK versions) are read unverified.
	srv.SetCRC(t, "p", "s", 1, nil)
	if got, _ := fetchValue(t, b, "gcp:s"); got != canary {
		t.Fatal("a version without a checksum: got a different value")
	}
}

func TestPermissionDenied(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "secret-a", []byte(canary))
	srv.Deny("p", "secret-a")
	srv.Deny("p", "missing")
	b := newTestBackend(t, srv, Options{Project: "p"})

	for _, r := range []string{"gcp:secret-a", "gcp:missing"} {
		err := fetchErr(t, b, r)
		if !errors.Is(err, fetcher.ErrPermission) || errors.Is(err, fetcher.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrPermission only", r, err)
		}
		if !strings.Contains(err.Error(), "roles/secretmanager.secretAccessor") {
			t.Errorf("%s: error %q does not name the role to grant", r, err)
		}
	}

	srv.Fail(codes.Unauthenticated, "Request had invalid authentication credentials.")
	if err := fetchErr(t, b, "gcp:secret-a"); !errors.Is(err, fetcher.ErrPermission) || !strings.Contains(err.Error(), "UNAUTHENTICATED") {
		t.Errorf("unauthenticated: got %v, want ErrPermission naming UNAUTHENTICATED", err)
	}
}

func TestNotFound(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "exists", []byte(canary))
	b := newTestBackend(t, srv, Options{Project: "p"})

	for _, r := range []string{"gcp:nope", "gcp:exists@9", "gcp:projects/other/secrets/exists"} {
		if err := fetchErr(t, b, r); !errors.Is(err, fetcher.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", r, err)
		}
	}
}

func TestRegionalSecrets(t *testing.T) {
	srv := gcpsm.Start(t, gcpsm.Location("europe-west1"))
	srv.AddVersion(t, "p", "regional", []byte("eu-value"))
	b := newTestBackend(t, srv, Options{Project: "p", Location: "europe-west1"})

	for _, r := range []string{
		"gcp:regional",
		"gcp:regional@1",
		"gcp:projects/p/locations/europe-west1/secrets/regional",
		"gcp:projects/p/locations/europe-west1/secrets/regional/versions/1",
	} {
		if got, sec := fetchValue(t, b, r); got != "eu-value" || sec.Version != "1" {
			t.Errorf("%s: got %q version %q, want eu-value version 1", r, got, sec.Version)
		}
	}
	calls := srv.Calls("AccessSecretVersion")
	for _, r := range []string{"gcp:projects/p/secrets/regional", "gcp:projects/p/locations/us-east1/secrets/regional"} {
		if err := fetchErr(t, b, r); !strings.Contains(err.Error(), "location") {
			t.Errorf("%s: got %v, want an error about the location", r, err)
		}
	}
	if got := srv.Calls("AccessSecretVersion"); got != calls {
		t.Errorf("misrouted names reached the server (%d calls, want %d): they should fail before the call", got, calls)
	}

	// The regional endpoint itself refuses global names, as the real one does.
	global := newTestBackend(t, srv, Options{Project: "p"})
	if err := fetchErr(t, global, "gcp:regional"); !strings.Contains(err.Error(), "regional endpoint") {
		t.Errorf("global name on a regional endpoint: got %v", err)
	}
}

func TestJSONFields(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "patas-api", []byte(`{"database_url":"postgresql://x","api_keys":"`+canary+`","port":5432}`))
	b := newTestBackend(t, srv, Options{Project: "p"})

	_, sec := fetchValue(t, b, "gcp:patas-api")
	if got := strings.Join(sec.Keys(), ","); got != "api_keys,database_url,port" {
		t.Fatalf("keys: got %s, want api_keys,database_url,port", got)
	}
	v, err := sec.Field("port")
	if err != nil || string(v.Reveal()) != "5432" {
		t.Fatalf("port: got %q, %v; want 5432", v.Reveal(), err)
	}
	if _, err := sec.Field("nope"); !errors.Is(err, fetcher.ErrMissingKey) || errors.Is(err, fetcher.ErrNotFound) || strings.Contains(err.Error(), canary) {
		t.Fatalf("missing key: got %v, want ErrMissingKey (not ErrNotFound) without the value", err)
	}
}

func TestConcurrentFetchesShareOneClient(t *testing.T) {
	srv := gcpsm.Start(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		srv.AddVersion(t, "p", n, []byte("value-"+n))
	}
	b := newTestBackend(t, srv, Options{Project: "p"})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		n := []string{"a", "b", "c", "d"}[i%4]
		wg.Go(func() {
			s, err := b.Fetch(context.Background(), ref(t, "gcp:"+n))
			if err == nil && string(s.Value.Reveal()) != "value-"+n {
				err = errors.New("got another secret's value for " + n)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Calls("AccessSecretVersion"); got != 40 {
		t.Fatalf("got %d calls, want 40", got)
	}
}

func TestInsecureNeedsLoopback(t *testing.T) {
	_, err := New(context.Background(), Options{Endpoint: "secretmanager.googleapis.com:443", Insecure: true}, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("got %v, want a refusal naming loopback", err)
	}
}

func TestCancelledContext(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "s", []byte("x"))
	b := newTestBackend(t, srv, Options{Project: "p"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Fetch(ctx, ref(t, "gcp:s")); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestUnavailableIsRetriedAndNamed(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "s", []byte("x"))
	b := newTestBackend(t, srv, Options{Project: "p"})
	srv.Fail(codes.Unavailable, "backend is down")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := b.Fetch(ctx, ref(t, "gcp:s"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "backend is down") {
		t.Fatalf("got %v, want the deadline with the last failure named", err)
	}
	if errors.Is(err, fetcher.ErrNotFound) || errors.Is(err, fetcher.ErrPermission) {
		t.Fatalf("an outage classified as %v", err)
	}
	if n := srv.Calls("AccessSecretVersion"); n < 2 {
		t.Fatalf("got %d calls, want the call retried", n)
	}
	srv.Fail(codes.OK, "")
	if got, _ := fetchValue(t, b, "gcp:s"); got != "x" {
		t.Fatalf("after the outage: got %q, want x", got)
	}
}

// RESOURCE_EXHAUSTED (HTTP 429, the per-project quota) is fetcher.ErrThrottled after one
// call: the engine's backoff spaces the next attempt, the call does not retry to its deadline.
func TestResourceExhaustedIsThrottled(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "s", []byte(canary))
	b := newTestBackend(t, srv, Options{Project: "p"})
	srv.Fail(codes.ResourceExhausted, "Quota exceeded for quota metric 'Access requests' and limit 'Access requests per minute per project'.")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := b.Fetch(ctx, ref(t, "gcp:s"))
	if !errors.Is(err, fetcher.ErrThrottled) || !strings.Contains(err.Error(), "RESOURCE_EXHAUSTED") {
		t.Fatalf("got %v, want fetcher.ErrThrottled naming RESOURCE_EXHAUSTED", err)
	}
	if errors.Is(err, fetcher.ErrNotFound) || errors.Is(err, fetcher.ErrPermission) || ctx.Err() != nil {
		t.Fatalf("got %v (context %v), want throttling only, before the deadline", err, ctx.Err())
	}
	if n := srv.Calls("AccessSecretVersion"); n != 1 {
		t.Fatalf("got %d calls, want 1 (no retry of a quota refusal)", n)
	}
}
