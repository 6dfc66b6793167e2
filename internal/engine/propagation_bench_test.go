package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// BenchmarkKubernetesSwapToEnvFile measures the time from a kubelet-style ..data symlink
// swap to the rewritten env file, with a 1h interval (so only the watch can explain it).
// It reports the median and the 90th percentile over b.N swaps:
//
//	go test -run '^$' -bench KubernetesSwap -benchtime 50x ./internal/engine
func BenchmarkKubernetesSwapToEnvFile(b *testing.B) {
	dir := b.TempDir()
	vol := filepath.Join(dir, "vol")
	os.Mkdir(vol, 0o755)
	gen := 0
	publish := func(value string) {
		gen++
		ts := fmt.Sprintf("..2026_11_28_%06d", gen)
		os.Mkdir(filepath.Join(vol, ts), 0o755)
		os.WriteFile(filepath.Join(vol, ts, "db_password"), []byte(value), 0o600)
		old, _ := os.Readlink(filepath.Join(vol, "..data"))
		os.Symlink(ts, filepath.Join(vol, "..data_tmp"))
		os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data"))
		if _, err := os.Lstat(filepath.Join(vol, "db_password")); err != nil {
			os.Symlink("..data/db_password", filepath.Join(vol, "db_password"))
		}
		if old != "" {
			os.RemoveAll(filepath.Join(vol, old))
		}
	}
	publish("v0")
	cfg, err := config.Parse([]byte(`backends: {k8s: {type: file, dir: vol}}
secrets:
  - env: DATABASE_URL
    template: 'postgresql://patas:{{ secret "k8s:db_password" }}@db/patas'
outputs: [{format: dotenv, path: out/secrets.env}]
refresh: {interval: 1h}
`), dir, allbackends.Registry())
	if err != nil {
		b.Fatal(err)
	}
	fb, _ := file.New(vol, zap.NewNop())
	e, _ := New(cfg, map[string]fetcher.Backend{"k8s": fb}, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	out := filepath.Join(dir, "out", "secrets.env")
	waitOutput := func(want string) time.Duration {
		start := time.Now()
		for {
			if got, _ := os.ReadFile(out); string(got) == want {
				return time.Since(start)
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("output never became %q", want)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	waitOutput("DATABASE_URL='postgresql://patas:v0@db/patas'\n")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		v := fmt.Sprintf("v%d", i+1)
		start := time.Now()
		publish(v)
		waitOutput("DATABASE_URL='postgresql://patas:" + v + "@db/patas'\n")
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
}
