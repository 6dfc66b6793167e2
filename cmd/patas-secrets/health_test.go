package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestHealthReadinessAndMetrics runs the sidecar with a secret missing (never ready), then
// adds it (ready), and checks health's exit codes, /healthz, /readyz and /metrics, which
// must never show a value.
func TestHealthReadinessAndMetrics(t *testing.T) {
	const canary = "CANARY-metrics-8d2e"
	addr := testenv.FreeAddr(t)
	dir := project(t, `environment: production
backends: {swarm: {type: file, dir: secrets}}
secrets:
  - env: API_KEYS
    ref: swarm:api_keys
  - env: LLM_API_KEY
    ref: swarm:llm
outputs: [{format: dotenv, path: out/secrets.env}]
refresh: {interval: 1h}
listen: `+addr+`
validate: {profile: patas, llm_provider: openai}
`, map[string]string{"api_keys": canary + "-weak:ns"})
	cfg := filepath.Join(dir, "patas.yaml")
	cmd := exec.Command(bin, "run", "--config", cfg)
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitUntil(t, "the health server", func() bool { c, _ := get("/healthz"); return c != 0 })
	for _, path := range []string{"/healthz", "/readyz"} {
		if c, body := get(path); c != 503 || !strings.Contains(body, "not written yet") {
			t.Errorf("%s before the first write: got %d %q, want 503 (no outputs to serve)", path, c, body)
		}
	}
	if r := runBin(t, nil, "health", "--config", cfg); r.code != exitFailed {
		t.Errorf("health before ready: got %+v, want exit 1", r)
	}
	if !strings.Contains(errb.String(), "LLM_API_KEY required when using OpenAI LLM provider") && !strings.Contains(errb.String(), "swarm:llm") {
		t.Errorf("the failing refresh does not say why:\n%s", errb.String())
	}

	os.WriteFile(filepath.Join(dir, "secrets", "llm"), []byte("sk-test-key"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "ready", func() bool { c, _ := get("/readyz"); return c == 200 })
	if r := runBin(t, nil, "health", "--config", cfg); r.code != 0 {
		t.Errorf("health when ready: got %+v, want exit 0", r)
	}
	if r := runBin(t, nil, "health", "--addr", addr); r.code != 0 {
		t.Errorf("health --addr when ready: got %+v, want exit 0", r)
	}
	if r := runBin(t, nil, "health", "--ready", "--addr", addr); r.code != 0 {
		t.Errorf("health --ready when ready: got %+v, want exit 0", r)
	}

	_, metrics := get("/metrics")
	for _, want := range []string{
		`patas_secrets_fetches_total{backend="swarm",result="ok"}`,
		`patas_secrets_fetches_total{backend="swarm",result="not_found"}`,
		`patas_secrets_refreshes_total{reason="start",result="error"}`,
		`patas_secrets_refreshes_total{reason="signal",result="ok"}`,
		`patas_secrets_outputs_written_total{path="` + filepath.Join(dir, "out", "secrets.env") + `"} 1`,
		`patas_secrets_hygiene_warnings{rule="known_weak",subject="LLM_API_KEY"} 1`,
		`patas_secrets_hygiene_warnings{rule="too_short",subject="LLM_API_KEY"} 1`,
		"patas_secrets_last_success_timestamp_seconds",
		"patas_secrets_staleness_seconds",
		"patas_secrets_fetch_duration_seconds_bucket",
		`patas_secrets_build_info{version="dev"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	logs := errb.String()
	for _, want := range []string{`"logger":"audit"`, `"msg":"secret read"`, `"ref":"swarm:api_keys"`, `"result":"not_found"`, `"msg":"secret hygiene"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if strings.Contains(metrics+logs, canary) {
		t.Errorf("a canary value reached /metrics or the logs")
	}
}

func TestHealthWithoutServer(t *testing.T) {
	if r := runBin(t, nil, "health", "--addr", testenv.FreeAddr(t)); r.code != exitFailed {
		t.Errorf("nothing listening: got %+v, want exit 1", r)
	}
	dir := project(t, "backends: {f: {type: file, dir: secrets}}\nsecrets: [{env: A, ref: 'f:a'}]\noutputs: [{format: dotenv, path: o}]\nlisten: \"off\"\n", nil)
	if r := runBin(t, nil, "health", "--config", filepath.Join(dir, "patas.yaml")); r.code != exitUsage {
		t.Errorf("listen off: got %+v, want exit 2", r)
	}
}
