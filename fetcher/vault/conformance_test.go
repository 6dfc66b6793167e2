package vault

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/fetchertest"
)

// conformancePolicy is what the suite's token may do: read under conf/ on both mounts.
const conformancePolicy = `
path "secret/data/conf/*"     { capabilities = ["read"] }
path "secret/metadata/conf/*" { capabilities = ["read"] }
path "kv1/conf/*"             { capabilities = ["read"] }
`

// TestConformance runs the backend suite against the Vault 1.14 dev server: a KV version 2
// mount (secret/) and a KV version 1 mount (kv1/), read with a renewable token whose policy
// grants read under conf/ only.
func TestConformance(t *testing.T) {
	f := newFixture(t)
	f.v.CLI(t, "secrets", "enable", "-path=kv1", "-version=1", "kv")
	if err := f.root.Sys().PutPolicy("conformance", conformancePolicy); err != nil {
		t.Fatal(err)
	}
	tok, err := f.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"conformance"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := f.tokenFile(tok.Auth.ClientToken)
	t.Run("kv2", func(t *testing.T) {
		fetchertest.Run(t, &vaultHarness{f: f, tokenFile: tokenFile, mount: "secret", v2: true})
	})
	t.Run("kv1", func(t *testing.T) {
		fetchertest.Run(t, &vaultHarness{f: f, tokenFile: tokenFile, mount: "kv1"})
	})
}

type vaultHarness struct {
	f         *fixture
	tokenFile string
	mount     string
	v2        bool
	seq       atomic.Int64
}

func (h *vaultHarness) Caps() fetchertest.Caps {
	if h.v2 {
		return fetchertest.Caps{Versions: true, Previous: true, Created: true}
	}
	return fetchertest.Caps{Note: "KV version 1 keeps no versions"}
}

func (h *vaultHarness) Endpoint() string { return h.f.v.Addr }

func (h *vaultHarness) Open(t *testing.T, endpoint string, log *zap.Logger) fetcher.Backend {
	if endpoint == "" {
		endpoint = h.f.v.Addr
	}
	c, err := New(Options{Address: endpoint, Auth: Auth{Method: MethodToken, TokenFile: h.tokenFile}}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (h *vaultHarness) Seed(t *testing.T, fields map[string]string) fetcher.Ref {
	ref := fetcher.Ref{Backend: "vault", Path: fmt.Sprintf("%s/conf/s%d", h.mount, h.seq.Add(1))}
	h.Rotate(t, ref, fields)
	return ref
}

func (h *vaultHarness) Rotate(t *testing.T, ref fetcher.Ref, fields map[string]string) {
	data := map[string]any{}
	for k, v := range fields {
		data[k] = v
	}
	path := ref.Path
	if h.v2 {
		path = kvV2Path(ref.Path, h.mount+"/", "data")
		data = map[string]any{"data": data}
	}
	if _, err := h.f.root.Logical().Write(path, data); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

func (h *vaultHarness) Missing(*testing.T) fetcher.Ref {
	return fetcher.Ref{Backend: "vault", Path: h.mount + "/conf/no-such-secret"}
}

// ReadDenied reads a secret outside conf/, which the token's policy does not grant.
func (h *vaultHarness) ReadDenied(t *testing.T, ctx context.Context, log *zap.Logger) error {
	ref := fetcher.Ref{Backend: "vault", Path: h.mount + "/denied/x"}
	h.Rotate(t, ref, map[string]string{"k": "CANARY-conformance-denied"})
	_, err := h.Open(t, "", log).Fetch(ctx, ref)
	return err
}
