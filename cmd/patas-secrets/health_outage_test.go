package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestHealthLivenessThroughOutage: a backend failing for longer than max_staleness turns
// readiness false (health --ready exits 1, the staleness metric passes the max_staleness
// metric: the alert) while liveness stays true (health exits 0: nothing kills the sidecar);
// a sidecar killed and restarted during the outage adopts the outputs on the volume as its
// last good generation and is alive at once, without touching them; when the backend comes
// back it is ready again.
func TestHealthLivenessThroughOutage(t *testing.T) {
	const canary = "CANARY-outage-5c1f"
	addr := testenv.FreeAddr(t)
	dir := project(t, `backends: {src: {type: file, dir: secrets}}
secrets:
  - {env: API_KEYS, ref: "src:api_keys"}
outputs: [{format: dotenv, path: out/secrets.env}]
refresh: {interval: 1s, jitter: 0%, watch: false, max_staleness: 2s, read_timeout: 500ms}
listen: `+addr+`
`, map[string]string{"api_keys": canary + ":ns"})
	cfg := filepath.Join(dir, "patas.yaml")
	out := filepath.Join(dir, "out", "secrets.env")
	var logs syncBuffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "--config", cfg)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	health := func(args ...string) int {
		return runBin(t, nil, append([]string{"health", "--addr", addr}, args...)...).code
	}

	cmd := start()
	waitUntil(t, "ready", func() bool { c, _ := get("/readyz"); return c == 200 })
	if c := health(); c != 0 {
		t.Fatalf("health when ready: exit %d", c)
	}
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	// The outage: every refresh fails from now on.
	if err := os.Remove(filepath.Join(dir, "secrets", "api_keys")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "not ready after max_staleness", func() bool { c, _ := get("/readyz"); return c == 503 })
	if c, body := get("/healthz"); c != 200 || !strings.Contains(body, "serving outputs") {
		t.Errorf("/healthz during the outage: got %d %q, want 200 (liveness ignores staleness)", c, body)
	}
	if c := health(); c != 0 {
		t.Errorf("health (liveness) during the outage: exit %d, want 0", c)
	}
	if c := health("--ready"); c != exitFailed {
		t.Errorf("health --ready during the outage: exit %d, want 1", c)
	}
	_, metrics := get("/metrics")
	if stale, max := metric(t, metrics, "patas_secrets_staleness_seconds"), metric(t, metrics, "patas_secrets_max_staleness_seconds"); max != 2 || stale <= max {
		t.Errorf("alert rule staleness > max_staleness: staleness %v, max_staleness %v; want 2 and above it", stale, max)
	}

	// A sidecar restart during the outage: the outputs on the volume are its last good generation.
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	before := len(logs.String())
	start()
	waitUntil(t, "the restarted sidecar's health server", func() bool { c, _ := get("/healthz"); return c != 0 })
	if c, body := get("/healthz"); c != 200 || !strings.Contains(body, "previous run") {
		t.Errorf("/healthz after a restart during the outage: got %d %q, want 200 serving the previous run's outputs", c, body)
	}
	if c := health(); c != 0 {
		t.Errorf("health (liveness) after a restart during the outage: exit %d, want 0", c)
	}
	if c, body := get("/readyz"); c != 503 {
		t.Errorf("/readyz after a restart during the outage: got %d %q, want 503 (outputs older than max_staleness)", c, body)
	}
	waitUntil(t, "a failed refresh after the restart", func() bool {
		return strings.Contains(logs.String()[before:], "refresh failed")
	})
	if now, _ := os.ReadFile(out); string(now) != string(good) {
		t.Errorf("the outputs changed during the outage")
	}

	// The backend is back: ready again, without a restart.
	if err := os.WriteFile(filepath.Join(dir, "secrets", "api_keys"), []byte(canary+"-2:ns"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "ready after the outage", func() bool { c, _ := get("/readyz"); return c == 200 })
	if c := health("--ready"); c != 0 {
		t.Errorf("health --ready after the outage: exit %d, want 0", c)
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("a secret value reached the logs")
	}
}

// metric reads one unlabelled sample from a Prometheus text exposition.
func metric(t *testing.T, text, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("/metrics lacks %s", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
