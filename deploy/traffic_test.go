package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// The PATAS-shaped app and its database (deploy/app), built by scripts/prepare.d/patas-app.sh
// or by appImages below.
const (
	appImage      = "patas-app:local"
	postgresImage = "patas-postgres:local"
)

var appBuilt struct {
	once      sync.Once
	base, err string
}

// appImages builds patas-app:local and patas-postgres:local on top of patas-secrets:local,
// from the debootstrap base (deploy/app/base-image.sh, cached by its package list), and
// returns the base image's name (the moto container of the traffic tests runs on it).
func appImages(t testing.TB) string {
	t.Helper()
	bin := docker(t)
	buildImages(t)
	appBuilt.once.Do(func() {
		root := repoRoot(t)
		out, err := exec.Command(filepath.Join(root, "deploy", "app", "base-image.sh")).Output()
		if err != nil {
			appBuilt.err = "deploy/app/base-image.sh: " + err.Error()
			if ee, ok := err.(*exec.ExitError); ok {
				appBuilt.err += "\n" + string(ee.Stderr)
			}
			return
		}
		appBuilt.base = strings.TrimSpace(string(out))
		for _, target := range []string{"app", "postgres"} {
			cmd := exec.Command(bin, "build", "-q", "-f", filepath.Join(root, "deploy", "app", "Dockerfile"),
				"--build-arg", "BASE_IMAGE="+appBuilt.base, "--build-arg", "PATAS_SECRETS_IMAGE="+secretsImage,
				"--target", target, "-t", "patas-"+target+":local", filepath.Join(root, "deploy", "app"))
			cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				appBuilt.err = "docker build --target " + target + ": " + err.Error() + "\n" + string(out)
				return
			}
		}
	})
	if appBuilt.err != "" {
		t.Fatal(appBuilt.err)
	}
	return appBuilt.base
}

// whoami is the app's answer on its authenticated endpoint.
type whoami struct {
	Namespace string `json:"namespace"`
	DBUser    string `json:"db_user"`
	PID       int    `json:"pid"`
	Reloads   int    `json:"reloads"`
}

// ask sends one authenticated request; an error says why it failed.
func ask(ctx context.Context, client *http.Client, url, key string) (whoami, error) {
	var w whoami
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/whoami", nil)
	if err != nil {
		return w, err
	}
	req.Header.Set("X-API-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return w, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return w, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return w, json.NewDecoder(resp.Body).Decode(&w)
}

// trafficClient sends authenticated requests one after another, round robin over the app's
// addresses, with the current key, and counts them per case. No retries: a request that
// fails is counted failed.
type trafficClient struct {
	urls   func() []string
	key    atomic.Value // string
	mu     sync.Mutex
	phase  string
	counts map[string]*phaseCount
	order  []string
}

type phaseCount struct {
	sent, failed int
	why          map[string]int
}

func newTrafficClient(urls func() []string, key, phase string) *trafficClient {
	c := &trafficClient{urls: urls, counts: map[string]*phaseCount{}}
	c.key.Store(key)
	c.setPhase(phase)
	return c
}

func (c *trafficClient) setPhase(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phase = p
	if c.counts[p] == nil {
		c.counts[p] = &phaseCount{why: map[string]int{}}
		c.order = append(c.order, p)
	}
}

func (c *trafficClient) record(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc := c.counts[c.phase]
	pc.sent++
	if err != nil {
		pc.failed++
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 && !strings.HasPrefix(msg, "HTTP") {
			msg = msg[i+2:]
		}
		pc.why[msg]++
	}
}

// run sends until ctx ends; the caller waits on the returned channel.
func (c *trafficClient) run(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	// 30 s, as a load balancer's upstream timeout would allow: in restart mode a request that
	// arrives during a restart waits in the socket exec holds (--listen) until the new
	// process accepts it, which took seconds under CI load.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			urls := c.urls()
			if len(urls) == 0 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			_, err := ask(ctx, client, urls[i%len(urls)], c.key.Load().(string))
			if ctx.Err() != nil {
				return
			}
			c.record(err)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return done
}

// counts returns sent and failed of one case.
func (c *trafficClient) get(phase string) (sent, failed int, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc := c.counts[phase]
	if pc == nil {
		return 0, 0, ""
	}
	return pc.sent, pc.failed, pc.reasons()
}

// reasons lists why requests failed, "N× reason", sorted.
func (pc *phaseCount) reasons() string {
	var out []string
	for k, v := range pc.why {
		out = append(out, fmt.Sprintf("%d× %s", v, k))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// checkNoneLost fails every case in which a request failed, or none was sent, but those in
// skip (the caller says why they are measured only). Only in the cases that restart the app
// (resets: case prefix -> app restarts in it, over every replica) may a request be lost, at
// most one per restart, and only to a reset or EOF: uvicorn, as it shuts down, closes the
// connections it has accepted and not yet read (the requests it has read, it finishes), and
// the kernel answers a request it did not read with a reset. PATAS serves with uvicorn too.
// A refused connection, a timeout or an HTTP error is never allowed.
func (c *trafficClient) checkNoneLost(t *testing.T, resets map[string]int, skip ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.order {
		if slices.Contains(skip, p) {
			continue
		}
		pc := c.counts[p]
		if pc.sent == 0 {
			t.Errorf("%s: no request sent", p)
		}
		allowed := 0
		for prefix, n := range resets {
			if strings.HasPrefix(p, prefix) {
				allowed = n
			}
		}
		lostToShutdown := pc.why["connection reset by peer"] + pc.why["EOF"]
		if pc.failed > 0 && (pc.failed != lostToShutdown || pc.failed > allowed) {
			t.Errorf("%s: %d of %d requests failed (%s), want 0 (or at most %d resets, one per app restart)", p, pc.failed, pc.sent, pc.reasons(), allowed)
		}
	}
}

// checkNewProcesses fails unless every replica answers from another process than before:
// restart mode is held to 0 lost requests, so its cases must have crossed real restarts.
func checkNewProcesses(t *testing.T, before, after []whoami) {
	t.Helper()
	for i, w := range after {
		if w.PID == 0 || w.PID == before[i].PID {
			t.Errorf("restart mode: replica %d answers with pid %d after the DB password change (before: %d), want a new process", i, w.PID, before[i].PID)
		}
	}
}

// report logs the table row of every case and writes it to $PATAS_TRAFFIC_REPORT when set
// (docs/deploy.md's table is made from it).
func (c *trafficClient) report(t *testing.T, target string) {
	c.mu.Lock()
	order := append([]string{}, c.order...)
	c.mu.Unlock()
	var rows []string
	for _, p := range order {
		sent, failed, why := c.get(p)
		rows = append(rows, fmt.Sprintf("| %s | %s | %d | %d | %s |", target, p, sent, failed, why))
	}
	t.Logf("requests per case:\n%s", strings.Join(rows, "\n"))
	if path := os.Getenv("PATAS_TRAFFIC_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, strings.Join(rows, "\n"))
			f.Close()
		}
	}
}

// waitFor polls cond every 250 ms until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// everyReplica reports whether every address answers key with a whoami that ok accepts.
func everyReplica(urls []string, key string, ok func(whoami) bool) bool {
	if len(urls) == 0 {
		return false
	}
	client := &http.Client{Timeout: 3 * time.Second}
	for _, u := range urls {
		w, err := ask(context.Background(), client, u, key)
		if err != nil || !ok(w) {
			return false
		}
	}
	return true
}

// rejected reports whether every address refuses key with 401.
func rejected(urls []string, key string) bool {
	client := &http.Client{Timeout: 3 * time.Second}
	for _, u := range urls {
		if _, err := ask(context.Background(), client, u, key); err == nil || err.Error() != "HTTP 401" {
			return false
		}
	}
	return len(urls) > 0
}

// alterRole changes the app role's password on the PostgreSQL container, over its local
// socket, the password on stdin (never a command line).
func alterRole(t *testing.T, bin, container, password string) {
	t.Helper()
	cmd := exec.Command(bin, "exec", "-i", container, "psql", "-h", "/tmp", "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "postgres")
	cmd.Stdin = strings.NewReader("ALTER ROLE patas PASSWORD '" + strings.ReplaceAll(password, "'", "''") + "';\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ALTER ROLE: %v\n%s", err, out)
	}
}

// killMain kills a container's main process with SIGKILL from the host: a crash, which the
// restart policy acts on (docker kill counts as a manual stop).
func killMain(t *testing.T, bin, container string) {
	t.Helper()
	pid := strings.TrimSpace(command(t, "", bin, "inspect", "--format", "{{.State.Pid}}", container))
	if pid == "" || pid == "0" {
		t.Fatalf("%s has no running process", container)
	}
	if out, err := exec.Command("kill", "-KILL", pid).CombinedOutput(); err != nil {
		t.Fatalf("kill -KILL %s (%s): %v %s", pid, container, err, out)
	}
}

// motoInContainer finds the host's moto_server and the Python prefix its interpreter lives
// in, which the traffic tests mount read-only into a container of the app's base image (no
// registry, no pip): moto then answers on the stack's network, where the test can pause it.
func motoInContainer(t testing.TB) (bin, prefix string) {
	t.Helper()
	bin = testenv.Binary(t, "PATAS_TEST_MOTO_BIN", "moto_server", "pip install 'moto[server]'")
	if strings.Contains(bin, "/shims/") { // a pyenv shim: the real script is in the version's bin
		if out, err := exec.Command("pyenv", "which", "moto_server").Output(); err == nil {
			bin = strings.TrimSpace(string(out))
		}
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	interp := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(interp) == 0 || !filepath.IsAbs(interp[0]) {
		t.Fatalf("%s: no interpreter line", bin)
	}
	prefix = filepath.Dir(filepath.Dir(interp[0])) // PREFIX/bin/python
	if !strings.HasPrefix(bin, prefix+"/") {
		t.Fatalf("moto_server %s is outside its interpreter's prefix %s", bin, prefix)
	}
	return bin, prefix
}

// seedMoto creates the secret the sidecar reads from AWS (LLM_API_KEY) in the moto server
// running in container, with the container's own Python and boto3, the value on stdin;
// retried while the server starts.
func seedMoto(t *testing.T, bin, container, prefix, value string) {
	t.Helper()
	const script = `import sys, json, boto3
c = boto3.client("secretsmanager", endpoint_url="http://127.0.0.1:5000", region_name="eu-west-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
c.create_secret(Name="patas/llm", SecretString=json.dumps({"llm_api_key": sys.stdin.read()}))`
	var out []byte
	var err error
	for i := 0; i < 240; i++ {
		cmd := exec.Command(bin, "exec", "-i", container, filepath.Join(prefix, "bin", "python"), "-c", script)
		cmd.Stdin = strings.NewReader(value)
		if out, err = cmd.CombinedOutput(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("creating the secret in moto: %v\n%s", err, out)
}

// appRestarts is how many times the traffic cases restart an app process, over both
// replicas: in restart mode (a) restarts each replica twice (the new key, then the end of
// the overlap window) and (b) once; reload mode restarts none.
func appRestarts(mode string) map[string]int {
	if mode != "restart" {
		return nil
	}
	return map[string]int{"a:": 4, "b:": 2}
}
