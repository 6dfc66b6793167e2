package gcp

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv/gcpsm"
)

// BenchmarkFetch is one read through the real client and gcpsm over loopback plaintext gRPC:
// client, server and this backend's work (name, CRC32C, JSON fields) together. A floor for
// a real read, which adds the network round trip and TLS.
// Run: go test -run '^$' -bench Fetch -benchmem ./fetcher/gcp/
func BenchmarkFetch(b *testing.B) {
	srv := gcpsm.Start(b)
	srv.AddVersion(b, "p", "patas-api", []byte(`{"database_url":"postgresql+asyncpg://patas:pw@db:5432/patas","api_keys":"k1,k2,k3"}`))
	be, err := New(context.Background(), Options{Project: "p", Endpoint: srv.Addr, Insecure: true}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	r, err := fetcher.ParseRef("gcp:patas-api")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := be.Fetch(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
