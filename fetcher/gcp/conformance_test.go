package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/fetchertest"
	"github.com/patas/patas-secrets/internal/testenv/gcpsm"
)

// TestConformance runs the backend suite against the gcpsm server over the REST form the
// backend speaks (the fault proxy sits between them for the 429 and hang checks).
func TestConformance(t *testing.T) {
	fetchertest.Run(t, &gcpHarness{srv: gcpsm.Start(t)})
}

type gcpHarness struct {
	srv *gcpsm.Server
	seq atomic.Int64
}

// Caps: pinned versions (@N) are read with the accessor role alone. The previous version's
// creation time (and the current one's, which the engine's overlap window starts from)
// takes GetSecretVersion, i.e. secretmanager.versions.get: roles/secretmanager.viewer (or
// secretVersionManager) besides roles/secretmanager.secretAccessor. The backend asks for the
// accessor role only, so it declares previous versions unsupported.
func (h *gcpHarness) Caps() fetchertest.Caps {
	return fetchertest.Caps{Versions: true, Note: "previous version and creation time need secretmanager.versions.get (roles/secretmanager.viewer), beyond secretAccessor: unsupported"}
}

func (h *gcpHarness) Endpoint() string { return "http://" + h.srv.Addr }

func (h *gcpHarness) Open(t *testing.T, endpoint string, log *zap.Logger) fetcher.Backend {
	ep := h.srv.Addr
	if endpoint != "" {
		ep = strings.TrimPrefix(endpoint, "http://")
	}
	b, err := New(context.Background(), Options{Project: "conformance", Endpoint: ep, Insecure: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func (h *gcpHarness) Seed(t *testing.T, fields map[string]string) fetcher.Ref {
	name := fmt.Sprintf("secret-%d", h.seq.Add(1))
	h.put(t, name, fields)
	return fetcher.Ref{Backend: "gcp", Path: name}
}

func (h *gcpHarness) Rotate(t *testing.T, ref fetcher.Ref, fields map[string]string) {
	h.put(t, ref.Path, fields)
}

func (h *gcpHarness) put(t *testing.T, name string, fields map[string]string) {
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.AddVersion(t, "conformance", name, b)
}

func (h *gcpHarness) Missing(*testing.T) fetcher.Ref {
	return fetcher.Ref{Backend: "gcp", Path: "no-such-secret"}
}

// ReadDenied: the caller lacks the accessor role on the secret (gcpsm's IAM Deny answers
// PERMISSION_DENIED, as the service does).
func (h *gcpHarness) ReadDenied(t *testing.T, ctx context.Context, log *zap.Logger) error {
	ref := h.Seed(t, map[string]string{"k": "CANARY-conformance-denied"})
	h.srv.Deny("conformance", ref.Path)
	_, err := h.Open(t, "", log).Fetch(ctx, ref)
	return err
}
