package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// maxImageBytes bounds the final image: a static binary and a CA bundle. The figure measured
// is logged; docs/deploy.md records it.
const maxImageBytes = 60 << 20

func TestImage(t *testing.T) {
	bin := docker(t)
	buildImages(t)

	var img struct {
		Size   int64
		Config struct {
			User        string
			Entrypoint  []string
			Cmd         []string
			Env         []string
			Healthcheck *struct{ Test []string }
		}
	}
	if err := json.Unmarshal([]byte(command(t, "", bin, "image", "inspect", "--format", "{{json .}}", secretsImage)), &img); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %.1f MiB", secretsImage, float64(img.Size)/(1<<20))
	if img.Size > maxImageBytes {
		t.Errorf("image size: got %d bytes, want at most %d", img.Size, maxImageBytes)
	}
	if img.Config.User != "65532:65532" {
		t.Errorf("USER: got %q, want 65532:65532 (numeric, non-root)", img.Config.User)
	}
	if hc := img.Config.Healthcheck; hc == nil || strings.Join(hc.Test, " ") != "CMD /usr/local/bin/patas-secrets health" {
		t.Errorf("HEALTHCHECK: got %+v, want exec form CMD /usr/local/bin/patas-secrets health", img.Config.Healthcheck)
	}

	t.Run("no shell", func(t *testing.T) {
		for _, sh := range []string{"/bin/sh", "/bin/busybox", "/bin/bash"} {
			if out, err := exec.Command(bin, "run", "--rm", "--entrypoint", sh, secretsImage, "-c", "true").CombinedOutput(); err == nil {
				t.Errorf("%s ran in the image: %s", sh, out)
			}
		}
	})

	t.Run("version", func(t *testing.T) {
		out := command(t, "", bin, "run", "--rm", "--read-only", secretsImage, "version")
		if !strings.Contains(out, "patas-secrets test") {
			t.Errorf("version: got %q, want the VERSION build argument (test)", out)
		}
	})

	t.Run("once read-only as non-root", func(t *testing.T) { testOnceReadOnly(t, bin) })
	t.Run("run on a tmpfs, healthy", func(t *testing.T) { testRunTmpfs(t, bin) })
}

// imageConfig writes a config for the sample secrets mounted at /run/secrets, with its
// output in outDir (a directory inside the container).
func imageConfig(t *testing.T, outDir string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `environment: development
backends:
  local: {type: file, dir: /run/secrets}
secrets:
  - {env: API_KEYS, ref: "local:api_keys"}
  - {env: LLM_API_KEY, ref: "local:llm_api_key"}
  - env: DATABASE_URL
    template: 'postgresql+asyncpg://patas:{{ secret "local:db_password" | urlencode }}@db:5432/patas'
outputs:
  - {format: dotenv, path: ` + outDir + `/secrets.env, mode: "0440"}
refresh: {interval: 1m, watch: true, max_staleness: 1h}
listen: 127.0.0.1:9102
`
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testOnceReadOnly runs `once` with a read-only root, as 65532, writing into a host directory
// so the test can read what it wrote.
func testOnceReadOnly(t *testing.T, bin string) {
	secrets := sampleSecrets(t)
	cfgDir := imageConfig(t, "/out")
	out := t.TempDir()
	if err := os.Chown(out, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	command(t, "", bin, "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--user", "65532:65532", "--cap-drop", "ALL",
		"-v", secrets+":/run/secrets:ro", "-v", cfgDir+":/etc/patas-secrets:ro", "-v", out+":/out", secretsImage, "once")

	path := filepath.Join(out, "secrets.env")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("once wrote no env file: %v", err)
	}
	if st.Mode().Perm() != 0o440 {
		t.Errorf("env file mode: got %v, want 0440", st.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars, err := dotenv.Parse(f)
	if err != nil {
		t.Fatalf("parsing the env file the Compose way: %v", err)
	}
	want, _ := os.ReadFile(filepath.Join(secrets, "api_keys"))
	if got := vars["API_KEYS"]; got != strings.TrimRight(string(want), "\n") {
		t.Errorf("API_KEYS: the env file's value differs from the source file")
	}
	if !strings.HasPrefix(vars["DATABASE_URL"], "postgresql+asyncpg://patas:") {
		t.Errorf("DATABASE_URL is not the composed URL")
	}
}

// testRunTmpfs runs the sidecar with a read-only root and its output on a tmpfs, and waits
// for the image's own HEALTHCHECK (`patas-secrets health`) to say healthy.
func testRunTmpfs(t *testing.T, bin string) {
	secrets := sampleSecrets(t)
	cfgDir := imageConfig(t, "/run/patas")
	name := "patas-secrets-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() { removeContainer(bin, name) })
	command(t, "", bin, "run", "-d", "--name", name, "--read-only", "--user", "65532:65532", "--cap-drop", "ALL",
		"--tmpfs", "/run/patas:uid=65532,gid=65532,mode=0750,size=1m",
		"--health-interval", "1s", "--health-start-period", "1s",
		"-v", secrets+":/run/secrets:ro", "-v", cfgDir+":/etc/patas-secrets:ro", secretsImage, "run")

	deadline := time.Now().Add(60 * time.Second)
	for {
		status := strings.TrimSpace(command(t, "", bin, "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", name))
		if status == "running healthy" {
			break
		}
		if !strings.HasPrefix(status, "running") || time.Now().After(deadline) {
			logs, _ := exec.Command(bin, "logs", name).CombinedOutput()
			t.Fatalf("container state %q, want running healthy; logs:\n%s", status, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	logs, _ := exec.Command(bin, "logs", name).CombinedOutput()
	if !strings.Contains(string(logs), "output written") {
		t.Errorf("no \"output written\" in the logs:\n%s", logs)
	}
	for _, canary := range []string{"dev-key:development", "sk-example-not-a-real-key", "example-only"} {
		if strings.Contains(string(logs), canary) {
			t.Errorf("a secret value appears in the container's logs")
		}
	}
}
