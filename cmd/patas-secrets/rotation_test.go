package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
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

// The rotation end-to-end test: the sidecar (run, file backend) writes API_KEYS to an env
// file; the PATAS stand-in (testdata/patas_app.py, pydantic-settings) runs under exec;
// a client calls it all along; the key is rotated in the source. Both delivery modes of
// exec are covered: restart, and SIGHUP to an app that reloads its settings; and both
// again with an overlap window on API_KEYS.

const (
	oldKey = "CANARY-old-key-7c1f"
	newKey = "CANARY-new-key-e94b"
)

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		testenv.Missing(t, "python3", "install python3 with pydantic-settings and python-dotenv")
	}
	if err := exec.Command("python3", "-c", "import pydantic_settings, dotenv").Run(); err != nil {
		testenv.Missing(t, "pydantic-settings", "pip install pydantic-settings python-dotenv")
	}
}

// call is one client request and what came of it.
type call struct {
	at     time.Time
	key    string
	status int    // 0 when the request did not get an answer
	err    string // connection refused during a restart, …
	pid    int
}

type client struct {
	url  string
	http *http.Client
	mu   sync.Mutex
	log  []call
	stop chan struct{}
	wg   sync.WaitGroup
}

func newClient(url string) *client {
	return &client{url: url, stop: make(chan struct{}),
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
}

func (c *client) do(key string) call {
	r := call{at: time.Now(), key: key}
	req, _ := http.NewRequest(http.MethodGet, c.url, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	var body struct{ Pid int }
	json.NewDecoder(resp.Body).Decode(&body)
	r.pid = body.Pid
	return r
}

// run calls with each key in turn, every 10ms, until stopped.
func (c *client) run(keys ...string) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			r := c.do(keys[i%len(keys)])
			c.mu.Lock()
			c.log = append(c.log, r)
			c.mu.Unlock()
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (c *client) halt() []call {
	close(c.stop)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log
}

// rotationRig is the sidecar and the app under exec, over one project directory.
type rotationRig struct {
	dir, url      string
	sidecar, app  *exec.Cmd
	sideOut, eOut syncBuffer
}

func startRig(t *testing.T, keys string, overlap time.Duration, execArgs ...string) *rotationRig {
	t.Helper()
	r := &rotationRig{}
	cfg := `backends: {src: {type: file, dir: secrets}}
secrets:
  - env: API_KEYS
    ref: src:api_keys
outputs: [{format: dotenv, path: run/secrets.env}]
refresh: {interval: 1h}
listen: "off"
`
	if overlap > 0 {
		cfg = strings.Replace(cfg, "ref: src:api_keys\n", "ref: src:api_keys\n    overlap: "+overlap.String()+"\n", 1)
	}
	r.dir = project(t, cfg, map[string]string{"api_keys": keys})
	addr := testenv.FreeAddr(t)
	r.url = "http://" + addr + "/"
	_, port, _ := strings.Cut(addr, ":")

	r.sidecar = exec.Command(bin, "run", "--log-level", "debug", "--config", filepath.Join(r.dir, "patas.yaml"))
	r.sidecar.Stdout, r.sidecar.Stderr = &r.sideOut, &r.sideOut
	args := append([]string{"exec", "--log-level", "debug", "--env-file", filepath.Join(r.dir, "run", "secrets.env"),
		"--debounce", "100ms", "--grace", "5s"}, execArgs...)
	args = append(args, "--", "python3", mustAbs(t, "testdata/patas_app.py"), port)
	r.app = exec.Command(bin, args...)
	r.app.Stdout, r.app.Stderr = &r.eOut, &r.eOut
	// exec first: it waits for the file the sidecar is about to write, as in a pod.
	for _, c := range []*exec.Cmd{r.app, r.sidecar} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, c := range []*exec.Cmd{r.app, r.sidecar} {
			if c.ProcessState == nil {
				c.Process.Kill()
				c.Wait()
			}
		}
		if t.Failed() || os.Getenv("ROTATION_LOGS") != "" {
			t.Logf("sidecar:\n%s\nexec and app:\n%s", r.sideOut.String(), r.eOut.String())
		}
	})
	c := newClient(r.url)
	waitLong(t, "the app to accept the first key", func() bool { return c.do(strings.SplitN(keys, ":", 2)[0]).status == 200 })
	return r
}

// waitLong is waitUntil with room for a Python app starting on a busy machine (pydantic's
// import alone took seconds here); it bounds a hang, it does not measure speed.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rotate replaces the source secret atomically, as a secrets store or kubelet would.
func (r *rotationRig) rotate(t *testing.T, keys string) {
	t.Helper()
	p := filepath.Join(r.dir, "secrets", "api_keys")
	if err := os.WriteFile(p+".new", []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
}

// stop ends both processes with SIGTERM, as the orchestrator does, and wants exit 0.
func (r *rotationRig) stop(t *testing.T) {
	t.Helper()
	for _, c := range []*exec.Cmd{r.app, r.sidecar} {
		c.Process.Signal(syscall.SIGTERM)
		if err := c.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit 0", c.Args[1], err)
		}
	}
	all := r.sideOut.String() + r.eOut.String()
	if strings.Contains(all, "CANARY-") {
		t.Errorf("a key was printed:\n%s", all)
	}
}

func TestRotationReachesTheApp(t *testing.T) {
	needPython(t)
	for _, mode := range []struct {
		name    string
		args    []string
		restart bool
	}{
		{"restart", nil, true},
		{"signal", []string{"--signal", "SIGHUP"}, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			rig := startRig(t, oldKey+":ns1", 0, mode.args...)
			c := newClient(rig.url)
			before := c.do(oldKey)
			c.run(oldKey, newKey)

			time.Sleep(200 * time.Millisecond) // some calls before the rotation
			rotatedAt := time.Now()
			rig.rotate(t, newKey+":ns1")
			waitLong(t, "the new key to be accepted", func() bool { return c.do(newKey).status == 200 })
			// The old key is refused from now on.
			if got := c.do(oldKey); got.status != 401 {
				t.Errorf("old key after rotation: got %d %s, want 401", got.status, got.err)
			}
			after := c.do(newKey)
			time.Sleep(200 * time.Millisecond) // some calls after
			log := c.halt()

			if mode.restart && after.pid == before.pid {
				t.Errorf("the app was not restarted: pid %d before and after", before.pid)
			}
			if !mode.restart && after.pid != before.pid {
				t.Errorf("signal mode restarted the app: pid %d, then %d", before.pid, after.pid)
			}
			checkCalls(t, log, rotatedAt, !mode.restart)
			rig.stop(t)
		})
	}
}

// TestRotationWithOverlap rotates API_KEYS with overlap: the old key keeps working for
// the whole window while the new one starts working, then the old one is refused. With
// SIGHUP (the app reloads its settings) no call fails at all; with restarts, calls go
// unanswered while the app restarts, but none is refused during the window.
func TestRotationWithOverlap(t *testing.T) {
	needPython(t)
	for _, mode := range []struct {
		name    string
		args    []string
		overlap time.Duration
		noGap   bool
	}{
		{"signal", []string{"--signal", "SIGHUP"}, 4 * time.Second, true},
		// Longer: a restarted Python app can take seconds to listen on a busy machine.
		{"restart", nil, 8 * time.Second, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			rig := startRig(t, oldKey+":ns1", mode.overlap, mode.args...)
			c := newClient(rig.url)
			c.run(oldKey, newKey)
			time.Sleep(200 * time.Millisecond)
			rotatedAt := time.Now()
			rig.rotate(t, newKey+":ns1")
			waitLong(t, "the new key to be accepted", func() bool { return c.do(newKey).status == 200 })
			if got := c.do(oldKey); got.status != 200 && time.Since(rotatedAt) < mode.overlap {
				t.Errorf("old key during the window: got %d %s, want 200", got.status, got.err)
			}
			deadline := time.Now().Add(mode.overlap + 90*time.Second)
			for c.do(oldKey).status != 401 {
				if time.Now().After(deadline) {
					t.Fatal("the old key was never refused: the window did not close")
				}
				time.Sleep(20 * time.Millisecond)
			}
			waitLong(t, "the new key after the window", func() bool { return c.do(newKey).status == 200 })
			time.Sleep(200 * time.Millisecond)
			log := c.halt()
			checkOverlapCalls(t, log, rotatedAt, mode.overlap, mode.noGap)
			rig.stop(t)
		})
	}
}

// checkOverlapCalls: the old key is accepted on every answered call until it is refused
// for good, which is no sooner than the window after the rotation; the new key, once
// accepted, is never refused again; with noGap every call is answered.
func checkOverlapCalls(t *testing.T, log []call, rotatedAt time.Time, overlap time.Duration, noGap bool) {
	t.Helper()
	var oldRefused, newAccepted time.Time
	unanswered := 0
	for _, c := range log {
		at := c.at.Format("15:04:05.000")
		switch {
		case c.status == 0:
			unanswered++
			if noGap {
				t.Errorf("call at %s with %s got no answer: %s", at, keyName(c.key), c.err)
			}
		case c.key == oldKey && c.status != 200:
			if oldRefused.IsZero() {
				oldRefused = c.at
			}
		case c.key == oldKey && !oldRefused.IsZero():
			t.Errorf("old key accepted at %s after it had been refused", at)
		case c.key == newKey && c.status == 200:
			if newAccepted.IsZero() {
				newAccepted = c.at
			}
		case c.key == newKey && !newAccepted.IsZero():
			t.Errorf("new key refused (%d) at %s after it had been accepted", c.status, at)
		}
	}
	switch {
	case newAccepted.IsZero() || oldRefused.IsZero():
		t.Errorf("the client saw new accepted at %v and old refused at %v; want both", newAccepted, oldRefused)
	case oldRefused.Sub(rotatedAt) < overlap:
		t.Errorf("the old key was refused %s after the rotation, before the %s window ended", oldRefused.Sub(rotatedAt), overlap)
	case !newAccepted.Before(oldRefused):
		t.Errorf("no time with both keys: new accepted at %v, old refused at %v", newAccepted, oldRefused)
	}
	t.Logf("%d calls, %d unanswered; both keys worked for %s; old key refused %s after the rotation",
		len(log), unanswered, oldRefused.Sub(newAccepted).Round(time.Millisecond), oldRefused.Sub(rotatedAt).Round(time.Millisecond))
}

// checkCalls reads the client's log: before the rotation the old key works and the new
// one is refused; once the new key has worked the old one never works again (one app,
// one switch). With noGap, no call may go unanswered (a reload, not a restart).
func checkCalls(t *testing.T, log []call, rotatedAt time.Time, noGap bool) {
	t.Helper()
	switched := false
	unanswered := 0
	for _, c := range log {
		if c.status == 0 {
			unanswered++
			if noGap {
				t.Errorf("call at %s with %s got no answer: %s", c.at.Format("15:04:05.000"), keyName(c.key), c.err)
			}
			continue
		}
		ok := c.status == 200
		switch {
		case c.at.Before(rotatedAt) && ok != (c.key == oldKey):
			t.Errorf("before rotation: %s got %d", keyName(c.key), c.status)
		case c.key == newKey && ok:
			switched = true
		case switched && c.key == oldKey && ok:
			t.Errorf("old key accepted at %s after the new key was", c.at.Format("15:04:05.000"))
		}
	}
	if !switched {
		t.Error("the client never saw the new key accepted")
	}
	t.Logf("%d calls, %d unanswered (while the app restarted)", len(log), unanswered)
}

func keyName(k string) string {
	if k == oldKey {
		return "the old key"
	}
	return "the new key"
}

// TestRotationThroughTheNotifier: no exec. The app runs on its own, with the variables of
// the first env file and a pidfile; the sidecar's notify: section sends it SIGHUP by
// pidfile after writing the rotated file, and the app reloads. No call goes unanswered,
// and the sidecar's metrics count the notification.
func TestRotationThroughTheNotifier(t *testing.T) {
	needPython(t)
	dir := project(t, "", map[string]string{"api_keys": oldKey + ":ns1"})
	metricsAddr := testenv.FreeAddr(t)
	cfg := `backends: {src: {type: file, dir: secrets}}
secrets: [{env: API_KEYS, ref: src:api_keys}]
outputs: [{format: dotenv, path: run/secrets.env}]
refresh: {interval: 1h}
listen: ` + metricsAddr + `
notify: {signal: {pidfile: run/app.pid, signal: SIGHUP}, debounce: 100ms, jitter: 100ms}
`
	os.WriteFile(filepath.Join(dir, "patas.yaml"), []byte(cfg), 0o600)
	envFile := filepath.Join(dir, "run", "secrets.env")
	if r := runBin(t, nil, "once", "--config", filepath.Join(dir, "patas.yaml")); r.code != 0 {
		t.Fatalf("once: %+v", r)
	}

	addr := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	app := exec.Command("python3", mustAbs(t, "testdata/patas_app.py"), port, filepath.Join(dir, "run", "app.pid"))
	// As an entrypoint that sources the env file would start it.
	app.Env = append(os.Environ(), "API_KEYS="+oldKey+":ns1", "PATAS_SECRETS_ENV_FILE="+envFile)
	var appOut, sideOut syncBuffer
	app.Stdout, app.Stderr = &appOut, &appOut
	sidecar := exec.Command(bin, "run", "--config", filepath.Join(dir, "patas.yaml"))
	sidecar.Stdout, sidecar.Stderr = &sideOut, &sideOut
	for _, c := range []*exec.Cmd{app, sidecar} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, c := range []*exec.Cmd{app, sidecar} {
			if c.ProcessState == nil {
				c.Process.Kill()
				c.Wait()
			}
		}
		if t.Failed() {
			t.Logf("sidecar:\n%s\napp:\n%s", sideOut.String(), appOut.String())
		}
	})
	c := newClient("http://" + addr + "/")
	waitLong(t, "the app to accept the old key", func() bool { return c.do(oldKey).status == 200 })
	c.run(oldKey, newKey)
	time.Sleep(200 * time.Millisecond)
	rotatedAt := time.Now()
	os.WriteFile(filepath.Join(dir, "secrets", "api_keys"), []byte(newKey+":ns1"), 0o600)
	waitLong(t, "the new key to be accepted", func() bool { return c.do(newKey).status == 200 })
	if got := c.do(oldKey); got.status != 401 {
		t.Errorf("old key after the reload: got %d %s, want 401", got.status, got.err)
	}
	time.Sleep(200 * time.Millisecond)
	checkCalls(t, c.halt(), rotatedAt, true)

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `patas_secrets_notifications_total{result="ok"} 1`) {
		t.Errorf("metrics lack one ok notification:\n%s", grepLines(string(body), "notification"))
	}
	for _, c := range []*exec.Cmd{app, sidecar} {
		c.Process.Signal(syscall.SIGTERM)
		if err := c.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v", c.Args[0], err)
		}
	}
	if strings.Contains(sideOut.String()+appOut.String(), "CANARY-") {
		t.Errorf("a key was printed:\n%s\n%s", sideOut.String(), appOut.String())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
