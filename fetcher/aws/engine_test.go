package aws

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/testenv"
)

// TestRotationReachesOutput runs the engine against moto: the guide's patas/production
// secret expanded into PATAS's variables, then a PutSecretValue rotation that must reach
// the env file while Run is going.
func TestRotationReachesOutput(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	seed.secret("patas/production", patasProduction)
	seed.param("/patas/prod/redis_url", "redis://:canary-redis@redis:6379/0", "SecureString")

	dir := t.TempDir()
	out := filepath.Join(dir, "secrets.env")
	cfg, err := config.Parse([]byte(`
environment: test
backends:
  aws: {type: aws, region: us-east-1, endpoint: "`+m.URL+`"}
secrets:
  - {ref: "aws:patas/production", expand: true}
  - {env: REDIS_URL, ref: "aws:ssm:/patas/prod/redis_url"}
outputs:
  - {format: dotenv, path: secrets.env, mode: "0600"}
refresh: {interval: 1s, jitter: 10%, max_staleness: 1h}
`), dir, registry.New([]registry.Type{Type}, nil))
	if err != nil {
		t.Fatal(err)
	}
	c, calls, log := newTestClient(t, Options{Region: "us-east-1", Endpoint: m.URL})
	eng, err := engine.New(cfg, map[string]fetcher.Backend{"aws": c}, log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx, nil) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop) // also when a wait below fails

	env := waitForFile(t, out, "canary-db-7f3a")
	for _, want := range []string{"DATABASE_URL=", "API_KEYS=", "LLM_API_KEY=", "REDIS_URL=", "canary-sk-llm-9c1e", "canary-redis"} {
		if !strings.Contains(env, want) {
			t.Errorf("env file lacks %q", want)
		}
	}

	calls.Reset()
	rotated := strings.Replace(patasProduction, "canary-db-7f3a", "canary-db-rotated", 1)
	seed.put("patas/production", rotated)
	env = waitForFile(t, out, "canary-db-rotated")
	stop()
	if strings.Contains(env, "canary-db-7f3a") {
		t.Error("the old password is still in the env file")
	}
	// Each refresh: one GetSecretValue (a single secret needs no batch) and one GetParameters.
	ops := calls.Ops()
	if ops["GetSecretValue"] == 0 || ops["GetSecretValue"] != ops["GetParameters"] || len(ops) != 2 {
		t.Errorf("calls while rotating: got %v, want one GetSecretValue and one GetParameters per refresh", ops)
	}
	assertNoCanary(t, "canary", log.String())
}

// waitForFile polls path until it contains want, and returns its content.
func waitForFile(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not receive the expected value within 30s", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
