package gcp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/testenv/gcpsm"
)

// engineWithGCP builds the whole pipeline as main does: config.Parse, the gcp backend from
// its config entry, engine.New, with the engine logging at debug level into logs.
func engineWithGCP(t *testing.T, srv *gcpsm.Server, secrets string, logs *syncBuffer) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	yaml := "environment: test\n" +
		"backends: {gcp: {type: gcp, project: my-project, endpoint: \"" + srv.Addr + "\", insecure: true}}\n" +
		"secrets:\n" + secrets +
		"outputs: [{format: dotenv, path: out.env, mode: \"0600\"}]\n" +
		"refresh: {interval: 1s, jitter: \"0%\"}\n"
	cfg, err := config.Parse([]byte(yaml), dir, registry.New([]registry.Type{Type}, nil))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	g := cfg.Backends["gcp"].Settings.(*Settings)
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zap.DebugLevel))
	b, err := New(context.Background(), Options{Project: g.Project, Location: g.Location, Endpoint: g.Endpoint, Insecure: g.Insecure}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	e, err := engine.New(cfg, map[string]fetcher.Backend{"gcp": b}, log)
	if err != nil {
		t.Fatal(err)
	}
	return e, filepath.Join(dir, "out.env")
}

func TestEngineKeyAndExpand(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "my-project", "patas-api", []byte(`{"api_keys":"`+canary+`","redis_url":"redis://cache:6379/0"}`))
	srv.AddVersion(t, "my-project", "patas-database-url", []byte("postgresql+asyncpg://patas@db/patas"))
	logs := &syncBuffer{}
	e, out := engineWithGCP(t, srv, `
  - env: DATABASE_URL
    ref: gcp:projects/my-project/secrets/patas-database-url/versions/latest
  - env: API_KEYS
    ref: gcp:patas-api#api_keys
  - ref: gcp:patas-api
    expand: true
    prefix: APP_
`, logs)
	if err := e.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	got, _ := os.ReadFile(out)
	for _, want := range []string{
		"DATABASE_URL='postgresql+asyncpg://patas@db/patas'",
		"API_KEYS='" + canary + "'",
		"APP_API_KEYS='" + canary + "'",
		"APP_REDIS_URL='redis://cache:6379/0'",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("output lacks %s", want)
		}
	}
	// Both patas-api entries share one read.
	if n := srv.Calls("AccessSecretVersion"); n != 2 {
		t.Errorf("got %d reads, want 2 (one per distinct secret)", n)
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("logs contain the secret value")
	}
}

func TestEngineMissingKeyNamesEntryNotValue(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "my-project", "patas-api", []byte(`{"api_keys":"`+canary+`"}`))
	logs := &syncBuffer{}
	e, out := engineWithGCP(t, srv, "  - env: TAS_API_KEY\n    ref: gcp:patas-api#tas_api_key\n", logs)
	err := e.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "tas_api_key") || strings.Contains(err.Error(), canary) {
		t.Fatalf("got %v, want an error naming the key and not the value", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("output written despite the failure (stat: %v)", statErr)
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("logs contain the secret value")
	}
}

func TestEngineRunPicksUpNewVersion(t *testing.T) {
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "my-project", "patas-llm-api-key", []byte("sk-first"))
	logs := &syncBuffer{}
	e, out := engineWithGCP(t, srv, "  - env: LLM_API_KEY\n    ref: gcp:patas-llm-api-key\n", logs)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitForFile(t, out, "LLM_API_KEY='sk-first'")
	srv.AddVersion(t, "my-project", "patas-llm-api-key", []byte("sk-rotated-"+canary))
	waitForFile(t, out, "LLM_API_KEY='sk-rotated-"+canary+"'")
	if strings.Contains(logs.String(), canary) {
		t.Errorf("logs contain the secret value")
	}
}

// waitForFile polls until path contains want (a condition, not a speed test).
func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s to contain %q; it holds %d bytes", path, want, len(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
