package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// BenchmarkRunOnceFile measures one refresh in process (read every secret from a file
// backend, render, write the env file) for 6 and 100 variables, with its allocations; the
// figures of the whole binary are bench/run.sh's:
//
//	go test -run '^$' -bench RunOnceFile -benchmem ./internal/engine
func BenchmarkRunOnceFile(b *testing.B) {
	for _, n := range []int{6, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := b.TempDir()
			vol := filepath.Join(dir, "vol")
			if err := os.Mkdir(vol, 0o755); err != nil {
				b.Fatal(err)
			}
			var cfgText strings.Builder
			cfgText.WriteString("backends: {f: {type: file, dir: vol}}\nsecrets:\n")
			for i := range n {
				name := fmt.Sprintf("n%04d", i)
				if err := os.WriteFile(filepath.Join(vol, name), []byte("value-"+name), 0o600); err != nil {
					b.Fatal(err)
				}
				fmt.Fprintf(&cfgText, "  - {env: V%04d, ref: 'f:%s'}\n", i, name)
			}
			cfgText.WriteString("outputs: [{format: dotenv, path: out/secrets.env}]\n")
			cfg, err := config.Parse([]byte(cfgText.String()), dir, allbackends.Registry())
			if err != nil {
				b.Fatal(err)
			}
			fb, err := file.New(vol, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer fb.Close()
			e, err := New(cfg, map[string]fetcher.Backend{"f": fb}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := e.RunOnce(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
