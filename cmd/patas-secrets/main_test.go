package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// bin is the patas-secrets binary built once for these tests: they run it as operators do.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "patas-secrets-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "patas-secrets")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	testenv.StopMoto()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// project lays out a config and a secrets directory in a temp dir.
func project(t *testing.T, config string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "secrets"), 0o755)
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, "secrets", n), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "patas.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVersion(t *testing.T) {
	r := runBin(t, nil, "version")
	if r.code != 0 || !strings.Contains(r.stdout, "patas-secrets") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("got %+v", r)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"once", "extra"}, {"once", "--bogus"}} {
		if r := runBin(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: got exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
	if r := runBin(t, []string{"PATAS_SECRETS_CONFIG="}, "once"); r.code != exitUsage || !strings.Contains(r.stderr, "--config") {
		t.Errorf("once without config: got %+v", r)
	}
}

// TestExampleWithPythonDotenv runs the README's first command and reads the result the way
// PATAS does, with python-dotenv.
func TestExampleWithPythonDotenv(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		testenv.Missing(t, "python3", "install python3 and python-dotenv")
	}
	if err := exec.Command("python3", "-c", "import dotenv").Run(); err != nil {
		testenv.Missing(t, "python-dotenv", "pip install python-dotenv")
	}
	dir := t.TempDir()
	cfg, _ := os.ReadFile("../../examples/patas.yaml")
	cfg = bytes.Replace(cfg, []byte("dir: secrets"), []byte("dir: "+mustAbs(t, "../../examples/secrets")), 1)
	os.WriteFile(filepath.Join(dir, "patas.yaml"), cfg, 0o600)
	if r := runBin(t, nil, "once", "--config", filepath.Join(dir, "patas.yaml")); r.code != 0 {
		t.Fatalf("once: %+v", r)
	}
	out, err := exec.Command("python3", "-c", "import json,sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(sys.argv[1])))",
		filepath.Join(dir, "out", "secrets.env")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"API_KEYS":          "dev-key:development,second-dev-key:staging",
		"DATABASE_URL":      "postgresql+asyncpg://patas:p%40ss%3Aw%2Frd-example-only@db:5432/patas",
		"LLM_API_KEY":       "sk-example-not-a-real-key",
		"EMBEDDING_API_KEY": "sk-example-not-a-real-key",
		"REDIS_URL":         "redis://patas:example-only@redis:6379/0",
		"TAS_API_KEY":       "tas-example-only",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: python-dotenv read %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("python-dotenv read %d variables, want %d: %v", len(got), len(want), got)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCheckReportsEveryProblem(t *testing.T) {
	dir := project(t, `backends:
  swarm: {type: file}
secrets:
  - env: 1A
    ref: vualt:a
  - env: B
    template: '{{ secret "swarm:b" '
outputs:
  - {format: dotnev, path: x, mode: 0440}
refresh: {intervall: 5m}
`, nil)
	r := runBin(t, nil, "check", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != exitUsage {
		t.Fatalf("got exit %d, want %d", r.code, exitUsage)
	}
	for _, want := range []string{"backends.swarm.dir", "secrets[0].env", `secrets[0].ref: unknown backend "vualt" (backends: swarm)`, "secrets[1].template", "outputs[0].format", "mode must be", "intervall"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestCheckConnectResolvesWithoutPrinting(t *testing.T) {
	const canary = "CANARY-check-31337"
	dir := project(t, "backends: {swarm: {type: file, dir: secrets}}\nsecrets: [{env: A, ref: 'swarm:a'}]\noutputs: [{format: dotenv, path: out.env}]\n",
		map[string]string{"a": canary})
	r := runBin(t, nil, "check", "--connect", "--log-level", "debug", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != 0 || !strings.Contains(r.stdout, "[A]") {
		t.Fatalf("got %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Errorf("check printed a value:\n%s%s", r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.env")); !os.IsNotExist(err) {
		t.Errorf("check --connect wrote an output")
	}
}

func TestOnceFailsClosed(t *testing.T) {
	dir := project(t, "backends: {swarm: {type: file, dir: secrets}}\nsecrets: [{env: A, ref: 'swarm:a'}, {env: B, ref: 'swarm:b'}]\noutputs: [{format: dotenv, path: out.env}]\n",
		map[string]string{"a": "1"})
	r := runBin(t, nil, "once", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != exitFailed || !strings.Contains(r.stderr, "secrets[1] (B)") {
		t.Errorf("got %+v, want exit 1 naming secrets[1] (B)", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.env")); !os.IsNotExist(err) {
		t.Errorf("once wrote an output despite a missing secret")
	}
}

// TestCanaryNeverLogged runs once (succeeding and failing) and run at debug level over
// canary values and looks for them in everything the process printed.
func TestCanaryNeverLogged(t *testing.T) {
	const canary = "CANARY-e2e-5f1c0d"
	files := map[string]string{
		"db_password": canary + "-pw",
		"app.json":    `{"api_keys": "` + canary + `-keys", "llm_api_key": "` + canary + `-llm"}`,
		"plain":       canary + "-plain",
	}
	good := `backends: {swarm: {type: file, dir: secrets}}
secrets:
  - env: DATABASE_URL
    template: 'postgresql://patas:{{ secret "swarm:db_password" }}@db/patas'
  - ref: swarm:app.json
    expand: true
  - env: EMBEDDING_API_KEY
    ref: swarm:missing
    optional: true
    fallback: LLM_API_KEY
outputs: [{format: dotenv, path: out.env}]
refresh: {interval: 1h}
listen: "off"
`
	bad := `backends: {swarm: {type: file, dir: secrets}}
secrets:
  - env: A
    ref: swarm:app.json#nope
  - env: B
    template: '{{ secret "swarm:db_password" }}{{ secret "swarm:plain#k" }}'
  - env: C
    ref: swarm:app.json
outputs: [{format: dotenv, path: out.env}]
`
	var printed []string
	dir := project(t, good, files)
	cfg := filepath.Join(dir, "patas.yaml")
	r := runBin(t, nil, "--log-level", "debug", "once", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("once: %+v", r)
	}
	printed = append(printed, r.stdout, r.stderr)
	if b, _ := os.ReadFile(filepath.Join(dir, "out.env")); !bytes.Contains(b, []byte(canary)) {
		t.Fatal("the canary did not reach the output: the test would prove nothing")
	}

	badDir := project(t, bad, files)
	r = runBin(t, nil, "once", "--log-level", "debug", "--config", filepath.Join(badDir, "patas.yaml"))
	if r.code == 0 {
		t.Fatal("bad once succeeded")
	}
	printed = append(printed, r.stdout, r.stderr)

	// run: first write, a change through the watch, then SIGTERM.
	cmd := exec.Command(bin, "run", "--log-level=debug", "--log-format", "console", "--config", cfg)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "secrets", "db_password"), []byte(canary+"-pw2"), 0o600)
	waitUntil(t, "run to rewrite the output", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "out.env"))
		return bytes.Contains(b, []byte(canary+"-pw2"))
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v, want exit 0", err)
	}
	printed = append(printed, out.String(), errb.String())

	all := strings.Join(printed, "\n")
	if strings.Contains(all, canary) {
		t.Errorf("a canary value was printed:\n%s", all)
	}
	for _, want := range []string{"secret read", "output written", `no key "nope"`} {
		if !strings.Contains(all, want) {
			t.Errorf("expected log/error %q is missing, so the scan saw less than it should:\n%s", want, all)
		}
	}
}

func TestRunRefreshesOnSIGHUP(t *testing.T) {
	dir := project(t, "backends: {swarm: {type: file, dir: secrets}}\nsecrets: [{env: A, ref: 'swarm:a'}]\noutputs: [{format: dotenv, path: out.env}]\nrefresh: {interval: 1h, watch: false}\nlisten: \"off\"\n",
		map[string]string{"a": "one"})
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "patas.yaml"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := filepath.Join(dir, "out.env")
	waitUntil(t, "first write", func() bool { b, _ := os.ReadFile(out); return string(b) == "A='one'\n" })
	os.WriteFile(filepath.Join(dir, "secrets", "a"), []byte("two"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "SIGHUP refresh", func() bool { b, _ := os.ReadFile(out); return string(b) == "A='two'\n" })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGINT: %v, want exit 0", err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
