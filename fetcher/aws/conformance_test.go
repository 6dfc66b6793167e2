package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/fetchertest"
	"github.com/patas/patas-secrets/internal/testenv"
)

// TestConformance runs the backend suite against moto: Secrets Manager secrets (JSON
// SecretString) and SSM parameters (a JSON SecureString each).
func TestConformance(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	t.Run("secretsmanager", func(t *testing.T) { fetchertest.Run(t, &awsHarness{url: m.URL}) })
	t.Run("ssm", func(t *testing.T) { fetchertest.Run(t, &awsHarness{url: m.URL, ssm: true}) })
}

type awsHarness struct {
	url string
	ssm bool
	seq atomic.Int64
}

func (h *awsHarness) Caps() fetchertest.Caps {
	return fetchertest.Caps{Versions: true, Previous: true, Created: true}
}

func (h *awsHarness) Endpoint() string { return h.url }

func (h *awsHarness) Open(t *testing.T, endpoint string, log *zap.Logger) fetcher.Backend {
	if endpoint == "" {
		endpoint = h.url
	}
	return h.open(t, Options{Endpoint: endpoint}, log)
}

func (h *awsHarness) open(t *testing.T, o Options, log *zap.Logger) *Client {
	calls := testenv.NewAWSCalls() // a transport closed when the test ends
	t.Cleanup(calls.Close)
	o.HTTPClient = calls.Client()
	c, err := New(context.Background(), o, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (h *awsHarness) Seed(t *testing.T, fields map[string]string) fetcher.Ref {
	name := fmt.Sprintf("conformance/s%d", h.seq.Add(1))
	return h.seedAt(t, h.url, name, fields)
}

func (h *awsHarness) seedAt(t *testing.T, url, name string, fields map[string]string) fetcher.Ref {
	s := newSeeder(t, url)
	if h.ssm {
		s.param("/"+name, jsonOf(t, fields), "SecureString")
		return fetcher.Ref{Backend: "aws", Path: "ssm:/" + name}
	}
	s.secret(name, jsonOf(t, fields))
	return fetcher.Ref{Backend: "aws", Path: name}
}

func (h *awsHarness) Rotate(t *testing.T, ref fetcher.Ref, fields map[string]string) {
	s := newSeeder(t, h.url)
	if h.ssm {
		s.param(ref.Path[len(ssmPrefix):], jsonOf(t, fields), "SecureString")
		return
	}
	s.put(ref.Path, jsonOf(t, fields))
}

func (h *awsHarness) Missing(*testing.T) fetcher.Ref {
	if h.ssm {
		return fetcher.Ref{Backend: "aws", Path: "ssm:/conformance/no-such-parameter"}
	}
	return fetcher.Ref{Backend: "aws", Path: "conformance/no-such-secret"}
}

// ReadDenied reads, from a moto of its own that checks IAM, a secret that exists with the
// keys of a user who has no policy: AWS answers AccessDenied.
func (h *awsHarness) ReadDenied(t *testing.T, ctx context.Context, log *zap.Logger) error {
	m := testenv.MotoWithAuth(t, 3) // the seed, the user and its key are made before IAM checks start
	ref := h.seedAt(t, m.URL, "conformance/denied", map[string]string{"k": "CANARY-conformance-denied"})
	keys := m.IAMUserWithoutPolicy(t, "patas-denied")
	t.Setenv("AWS_ACCESS_KEY_ID", keys.ID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", keys.Secret)
	c := h.open(t, Options{Endpoint: m.URL}, log)
	_, err := c.Fetch(ctx, ref)
	return err
}

func jsonOf(t *testing.T, fields map[string]string) string {
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
