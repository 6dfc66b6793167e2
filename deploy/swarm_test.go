package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The password the test stores as the Swarm secret db_password, and the URL patas-secrets
// must compose from it (deploy/swarm/patas-secrets.yaml).
const (
	swarmDBPassword = "swarm-db-pass-0123"
	swarmDBURL      = "postgresql+asyncpg://patas:" + swarmDBPassword + "@db:5432/patas"
	swarmStack      = "patas-e2e"
)

// TestSwarm deploys deploy/swarm/stack.yml on a one-node swarm (on loopback) with the
// locally built images and external secrets, and checks the stand-in receives the composed
// DATABASE_URL. A swarm this test did not create is refused rather than touched.
func TestSwarm(t *testing.T) {
	bin := docker(t)
	buildImages(t)
	state := strings.TrimSpace(command(t, "", bin, "info", "--format", "{{.Swarm.LocalNodeState}}"))
	if state != "inactive" {
		t.Skipf("this engine is already in swarm state %q; the test only runs on a swarm it creates", state)
	}
	// swarm init makes the docker_gwbridge network, and leave keeps it: remove it after
	// leaving unless it was there before.
	hadGWBridge := exec.Command(bin, "network", "inspect", "docker_gwbridge").Run() == nil
	t.Cleanup(func() {
		_ = exec.Command(bin, "swarm", "leave", "--force").Run()
		// The network can stay busy for a moment after leaving.
		for i := 0; !hadGWBridge && i < 20; i++ {
			if exec.Command(bin, "network", "rm", "docker_gwbridge").Run() == nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	if out, err := exec.Command(bin, "swarm", "init", "--advertise-addr", "127.0.0.1").CombinedOutput(); err != nil {
		t.Skipf("swarm mode cannot run here: docker swarm init --advertise-addr 127.0.0.1: %v: %s (TestStackFile still validates the stack)", err, out)
	}

	for name, value := range map[string]string{"db_password": swarmDBPassword, "api_keys": "swarm-key:production", "llm_api_key": "sk-swarm-test"} {
		cmd := exec.Command(bin, "secret", "create", name, "-")
		cmd.Stdin = strings.NewReader(value)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("secret create %s: %v\n%s", name, err, out)
		}
	}

	root := repoRoot(t)
	deploy := exec.Command(bin, "stack", "deploy", "--resolve-image", "never", "-c", filepath.Join(root, "deploy", "swarm", "stack.yml"), swarmStack)
	deploy.Env = append(os.Environ(), "PATAS_SECRETS_IMAGE="+secretsImage, "PATAS_IMAGE="+standinImage)
	if out, err := deploy.CombinedOutput(); err != nil {
		t.Fatalf("stack deploy: %v\n%s", err, out)
	}
	t.Cleanup(func() { removeStack(t, bin) })

	start := time.Now()
	deadline := start.Add(120 * time.Second)
	for {
		logs, _ := exec.Command(bin, "service", "logs", "--raw", swarmStack+"_patas").CombinedOutput()
		if env, ok := standinStarted(string(logs)); ok {
			if env["DATABASE_URL"] != fingerprint(swarmDBURL) {
				t.Errorf("DATABASE_URL: the app got a different value from the composed %s", "postgresql+asyncpg://patas:***@db:5432/patas")
			}
			if env["API_KEYS"] != fingerprint("swarm-key:production") {
				t.Errorf("API_KEYS: the app got a different value from the Swarm secret")
			}
			if env["EMBEDDING_API_KEY"] != fingerprint("sk-swarm-test") {
				t.Errorf("EMBEDDING_API_KEY: want the LLM_API_KEY fallback")
			}
			t.Logf("the stand-in started with the composed DATABASE_URL %v after stack deploy", time.Since(start).Round(100*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			ps, _ := exec.Command(bin, "stack", "ps", "--no-trunc", swarmStack).CombinedOutput()
			side, _ := exec.Command(bin, "service", "logs", "--raw", swarmStack+"_patas-secrets").CombinedOutput()
			t.Fatalf("the stand-in did not start with the secrets in time\nstack ps:\n%s\npatas logs:\n%s\npatas-secrets logs:\n%s", ps, logs, side)
		}
		time.Sleep(time.Second)
	}
}

// standinStarted finds the stand-in's start-up line in service logs.
func standinStarted(logs string) (map[string]string, bool) {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Msg string            `json:"msg"`
			Env map[string]string `json:"env"`
		}
		if json.Unmarshal([]byte(sc.Text()), &line) == nil && line.Msg == "standin started" && line.Env["DATABASE_URL"] != "" {
			return line.Env, true
		}
	}
	return nil, false
}

// removeStack removes the stack, waits for its containers to go, then removes its volume
// and the secrets (the swarm itself is left by the caller's cleanup).
func removeStack(t *testing.T, bin string) {
	_ = exec.Command(bin, "stack", "rm", swarmStack).Run()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command(bin, "ps", "-a", "-q", "--filter", "label=com.docker.stack.namespace="+swarmStack).Output()
		if strings.TrimSpace(string(out)) == "" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	_ = exec.Command(bin, "volume", "rm", swarmStack+"_patas-run").Run()
	_ = exec.Command(bin, "secret", "rm", "db_password", "api_keys", "llm_api_key").Run()
}
