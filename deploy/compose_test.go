package deploy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// standinReport is what deploy/standin serves on /env.
type standinReport struct {
	PID int               `json:"pid"`
	Env map[string]string `json:"env"`
}

// composeTools are the Compose implementations on this machine: the v2 plugin and the v1
// Python tool are both meant to run docker-compose.yml.
func composeTools(t *testing.T, bin string) map[string][]string {
	tools := map[string][]string{}
	if exec.Command(bin, "compose", "version").Run() == nil {
		tools["docker compose"] = []string{bin, "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		tools["docker-compose"] = []string{p}
	}
	if len(tools) == 0 {
		testenv.Missing(t, "docker compose or docker-compose", "apt-get install docker-compose")
	}
	return tools
}

func TestCompose(t *testing.T) {
	bin := docker(t)
	buildImages(t)
	for name, tool := range composeTools(t, bin) {
		t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) { composeEndToEnd(t, bin, tool) })
	}
}

// composeEndToEnd brings docker-compose.yml up with the built images, checks the stand-in
// sees the sample secrets, rotates one source file and waits for the running app to see the
// new value, then takes it down and checks nothing of the project is left.
func composeEndToEnd(t *testing.T, bin string, tool []string) {
	root := repoRoot(t)
	secrets := sampleSecrets(t)
	port := strings.TrimPrefix(testenv.FreeAddr(t), "127.0.0.1:")
	project := "patas-e2e-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	compose := func(args ...string) (string, error) {
		a := append(append([]string{}, tool[1:]...), append([]string{"-p", project, "-f", filepath.Join(root, "docker-compose.yml")}, args...)...)
		cmd := exec.Command(tool[0], a...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PATAS_SECRETS_DIR="+secrets, "PATAS_STANDIN_PORT="+port)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { _, _ = compose("down", "-v", "--remove-orphans") })

	start := time.Now()
	if out, err := compose("up", "-d"); err != nil {
		logs, _ := compose("logs", "--no-color")
		t.Fatalf("up: %v\n%s\nlogs:\n%s", err, out, logs)
	}
	t.Logf("%s up -d: %v", strings.Join(tool, " "), time.Since(start).Round(100*time.Millisecond))

	url := "http://127.0.0.1:" + port + "/env"
	want := func(name string) string {
		data, err := os.ReadFile(filepath.Join(secrets, name))
		if err != nil {
			t.Fatal(err)
		}
		return fingerprint(strings.TrimRight(string(data), "\n"))
	}
	first := waitStandin(t, url, func(r standinReport) bool { return r.Env["API_KEYS"] != "" }, compose)
	for _, c := range []struct{ name, got, want string }{
		{"API_KEYS", first.Env["API_KEYS"], want("api_keys")},
		{"LLM_API_KEY", first.Env["LLM_API_KEY"], want("llm_api_key")},
		{"EMBEDDING_API_KEY (falls back to LLM_API_KEY)", first.Env["EMBEDDING_API_KEY"], want("llm_api_key")},
	} {
		if c.got != c.want {
			t.Errorf("%s: the app's value differs from the source file", c.name)
		}
	}
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "TAS_API_KEY"} {
		if first.Env[name] == "" {
			t.Errorf("the app did not get %s", name)
		}
	}

	// Rotation: a new api_keys file reaches the running app (exec restarts it).
	rotated := "rotated-key:production,dev-key:development"
	writeSecret(t, secrets, "api_keys", rotated+"\n")
	start = time.Now()
	after := waitStandin(t, url, func(r standinReport) bool { return r.Env["API_KEYS"] == fingerprint(rotated) }, compose)
	t.Logf("rotated api_keys reached the app in %v (pid %d -> %d)", time.Since(start).Round(100*time.Millisecond), first.PID, after.PID)

	logs, _ := compose("logs", "--no-color")
	for _, canary := range []string{"dev-key:development", "rotated-key", "sk-example-not-a-real-key", "example-only"} {
		if strings.Contains(logs, canary) {
			t.Errorf("a secret value appears in the compose logs")
		}
	}

	if out, err := compose("down", "-v"); err != nil {
		t.Fatalf("down -v: %v\n%s", err, out)
	}
	filter := "label=com.docker.compose.project=" + project
	for _, what := range [][]string{{"ps", "-a"}, {"volume", "ls"}, {"network", "ls"}} {
		out := command(t, "", bin, append(what, "-q", "--filter", filter)...)
		if strings.TrimSpace(out) != "" {
			t.Errorf("after down -v, docker %s still lists %s", strings.Join(what, " "), strings.Fields(out))
		}
	}
}

// waitStandin polls the stand-in's /env until ok accepts the report.
func waitStandin(t *testing.T, url string, ok func(standinReport) bool, compose func(...string) (string, error)) standinReport {
	t.Helper()
	client := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		var r standinReport
		resp, err := client.Get(url)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
		}
		if err == nil && ok(r) {
			return r
		}
		last = fmt.Sprint(err)
		time.Sleep(500 * time.Millisecond)
	}
	logs, _ := compose("logs", "--no-color")
	t.Fatalf("the stand-in at %s did not report what was expected in time (last error %s); logs:\n%s", url, last, logs)
	return standinReport{}
}
