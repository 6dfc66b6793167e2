package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"go.yaml.in/yaml/v3"

	"github.com/patas/patas-secrets/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start builds a Manager from a notify: section and runs it until the test ends.
func start(t *testing.T, section string) (*Manager, *observer.ObservedLogs) {
	t.Helper()
	var n config.NotifyConfig
	dec := yaml.NewDecoder(strings.NewReader(section))
	dec.KnownFields(true)
	if err := dec.Decode(&n); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	m, err := New(n, t.TempDir(), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	m.minBackoff, m.maxBackoff = 20*time.Millisecond, 100*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return m, logs
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// trapper is a process that appends a line to a file for each SIGHUP (or SIGUSR1).
func trapper(t *testing.T, argv0 string) (pid int, got func() int) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "signals")
	cmd := exec.Command("/bin/sh", "-c", `trap 'echo s >> "$0"' HUP USR1; echo ready > "$0.ready"; while :; do sleep 0.02; done`, out)
	if argv0 != "" {
		cmd.Args[0] = argv0
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, "the trap to be set", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	return cmd.Process.Pid, func() int {
		b, _ := os.ReadFile(out)
		return strings.Count(string(b), "s\n")
	}
}

func TestPidfile(t *testing.T) {
	pid, got := trapper(t, "")
	pidfile := filepath.Join(t.TempDir(), "app.pid")
	os.WriteFile(pidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644)
	m, _ := start(t, "{signal: {pidfile: "+pidfile+", signal: SIGUSR1}, debounce: 20ms, jitter: 0s}")
	m.Changed()
	eventually(t, "the signal", func() bool { return got() == 1 })
	eventually(t, "the counter", func() bool { return m.Stats().Sent == 1 })
	if s := m.Stats(); s.Failed != 0 {
		t.Errorf("got %+v, want no failure", s)
	}
}

// TestPidfileOfADeadProcess: the failure is logged, counted, retried, then abandoned.
func TestPidfileOfADeadProcess(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(t.TempDir(), "app.pid")
	os.WriteFile(pidfile, []byte(strconv.Itoa(dead.ProcessState.Pid())), 0o644)
	m, logs := start(t, "{signal: {pidfile: "+pidfile+"}, debounce: 10ms, jitter: 0s, retries: 2}")
	m.Changed()
	eventually(t, "the retries to be abandoned", func() bool { return m.Stats().GaveUp == 1 })
	if s := m.Stats(); s.Failed != 3 || s.Sent != 0 {
		t.Errorf("got %+v, want 3 failed attempts (1 + 2 retries), none sent", s)
	}
	fails := logs.FilterMessage("notification failed").All()
	if len(fails) != 3 || !strings.Contains(fails[0].ContextMap()["error"].(string), "no such process") {
		t.Errorf("got failure logs %v, want 3 saying no such process", fails)
	}
	if logs.FilterMessage("notification abandoned; the application may run on old secrets until the next change").Len() != 1 {
		t.Error("the abandonment was not logged")
	}
}

func TestPidfileRefusesNonPositive(t *testing.T) {
	for _, content := range []string{"0", "-1", "", "abc"} {
		p := filepath.Join(t.TempDir(), "pid")
		os.WriteFile(p, []byte(content), 0o644)
		tg := &pidfileTarget{path: p, sig: 1}
		if err := tg.notify(context.Background()); err == nil {
			t.Errorf("pidfile %q: no error", content)
		}
	}
}

func TestProcessName(t *testing.T) {
	name := "patas-fake-app-" + strconv.Itoa(os.Getpid())
	_, got1 := trapper(t, name)
	_, got2 := trapper(t, "/usr/local/bin/"+name) // matched by base name
	m, _ := start(t, "{signal: {process: "+name+"}, debounce: 10ms, jitter: 0s}")
	m.Changed()
	eventually(t, "both processes to get SIGHUP", func() bool { return got1() == 1 && got2() == 1 })

	none, _ := start(t, "{signal: {process: no-such-process-"+name+"}, debounce: 10ms, jitter: 0s, retries: 0}")
	none.Changed()
	eventually(t, "the failure", func() bool { return none.Stats().GaveUp == 1 })
}

func TestCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ran")
	m, _ := start(t, `{command: {args: [/bin/sh, -c, 'echo ran >> "$0"', `+out+`]}, debounce: 10ms, jitter: 0s}`)
	m.Changed()
	eventually(t, "the command to run", func() bool { b, _ := os.ReadFile(out); return string(b) == "ran\n" })
	eventually(t, "the counter", func() bool { return m.Stats().Sent == 1 })

	failing, logs := start(t, `{command: {args: [/bin/sh, -c, 'exit 3']}, debounce: 10ms, jitter: 0s, retries: 0}`)
	failing.Changed()
	eventually(t, "the failure", func() bool { return failing.Stats().GaveUp == 1 })
	if e := logs.FilterMessage("notification failed").All(); len(e) != 1 || !strings.Contains(e[0].ContextMap()["error"].(string), "exit status 3") {
		t.Errorf("got %v, want a failure naming exit status 3", e)
	}
}

func TestCommandTimeout(t *testing.T) {
	m, logs := start(t, `{command: {args: [/bin/sh, -c, 'sleep 30 & sleep 30'], timeout: 200ms}, debounce: 10ms, jitter: 0s, retries: 0}`)
	m.Changed()
	eventually(t, "the timeout", func() bool { return m.Stats().GaveUp == 1 })
	if e := logs.FilterMessage("notification failed").All(); len(e) != 1 || !strings.Contains(e[0].ContextMap()["error"].(string), "timeout") {
		t.Errorf("got %v, want a timeout", e)
	}
}

// loopback is an HTTP server on 127.0.0.1 that answers with the given statuses in turn
// (the last one repeated) and counts requests.
func loopback(t *testing.T, statuses ...int) (url string, count func() int) {
	var n atomic.Int32
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/reload", func() int { return int(n.Load()) }
}

func TestHTTP(t *testing.T) {
	url, count := loopback(t, http.StatusNoContent)
	m, _ := start(t, "{http: {url: '"+url+"'}, debounce: 10ms, jitter: 0s}")
	m.Changed()
	eventually(t, "the request", func() bool { return count() == 1 && m.Stats().Sent == 1 })
}

func TestHTTPRetriesNon2xx(t *testing.T) {
	url, count := loopback(t, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusOK)
	m, logs := start(t, "{http: {url: '"+url+"'}, debounce: 10ms, jitter: 0s}")
	var oks, errs atomic.Int32
	m.OnResult = func(ok bool) {
		if ok {
			oks.Add(1)
		} else {
			errs.Add(1)
		}
	}
	m.Changed()
	eventually(t, "the third request to succeed", func() bool { return m.Stats().Sent == 1 })
	if s := m.Stats(); s.Failed != 2 || count() != 3 {
		t.Errorf("got %+v after %d requests, want 2 failed then 1 sent", s, count())
	}
	if oks.Load() != 1 || errs.Load() != 2 {
		t.Errorf("OnResult saw %d ok and %d errors, want 1 and 2", oks.Load(), errs.Load())
	}
	if e := logs.FilterMessage("notification failed").All(); len(e) != 2 || !strings.Contains(e[0].ContextMap()["error"].(string), "503") {
		t.Errorf("got %v, want two failures, the first naming 503", e)
	}
}

func TestHTTPTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	m, _ := start(t, "{http: {url: '"+srv.URL+"', timeout: 100ms}, debounce: 10ms, jitter: 0s, retries: 0}")
	m.Changed()
	eventually(t, "the timeout", func() bool { return m.Stats().GaveUp == 1 })
}

// TestDebounceCoalesces reports a burst of changes; one notification goes out.
func TestDebounceCoalesces(t *testing.T) {
	url, count := loopback(t, http.StatusOK)
	m, logs := start(t, "{http: {url: '"+url+"'}, debounce: 200ms, jitter: 50ms}")
	burst := time.Now()
	for i := 0; i < 20; i++ {
		m.Changed()
	}
	if d := time.Since(burst); d > 100*time.Millisecond {
		t.Skipf("the machine took %s for the burst, too close to the 200ms debounce to test coalescing", d)
	}
	// The barrier: the round is delivered. Every change came before it, so no change may
	// still be pending (one would make a second notification).
	eventually(t, "the round to be delivered", func() bool { return logs.FilterMessage("application notified").Len() == 1 })
	if n, pending := count(), len(m.changed); n != 1 || pending != 0 {
		t.Errorf("a burst of 20 changes made %d notifications and left %d pending, want 1 and 0", n, pending)
	}
	m.Changed()
	eventually(t, "a later change to notify again", func() bool { return count() == 2 })
}

func TestNewRefusesAnInvalidSection(t *testing.T) {
	for _, section := range []string{
		"{debounce: 1s}",
		"{signal: {signal: HUP}}",
		"{signal: {pidfile: /a, process: b}}",
		"{signal: {pidfile: /a, signal: SIGNOPE}}",
		"{command: {args: []}}",
		"{http: {url: 'ftp://x'}}",
		"{http: {url: 'http://user:pw@x/'}}",
		"{http: {url: 'http://x/', method: DELETE}}",
	} {
		var n config.NotifyConfig
		if err := yaml.Unmarshal([]byte(section), &n); err != nil {
			t.Fatal(err)
		}
		if _, err := New(n, "", zap.NewNop()); err == nil {
			t.Errorf("%s: no error", section)
		}
	}
}

// TestDesignExample decodes the notify section of DESIGN.md's example as the config does
// (strictly) and checks what it builds, relative pidfile included.
func TestDesignExample(t *testing.T) {
	for _, tc := range []struct{ section, dir, want string }{
		{"{signal: {pidfile: /run/patas/app.pid, signal: SIGHUP}, debounce: 2s}", "", "SIGHUP to pidfile /run/patas/app.pid"},
		{"{signal: {pidfile: app.pid}}", "/etc/patas-secrets", "SIGHUP to pidfile /etc/patas-secrets/app.pid"},
		{"{signal: {process: uvicorn, signal: usr1}}", "", "SIGUSR1 to processes named uvicorn"},
		{"{command: {args: [/usr/local/bin/reload, --now]}}", "", "command /usr/local/bin/reload"},
		{"{http: {url: 'http://127.0.0.1:8000/reload?x=1', method: put}}", "", "PUT http://127.0.0.1:8000/reload?x=1"},
	} {
		var n config.NotifyConfig
		dec := yaml.NewDecoder(strings.NewReader(tc.section))
		dec.KnownFields(true)
		if err := dec.Decode(&n); err != nil {
			t.Fatalf("%s: %v", tc.section, err)
		}
		m, err := New(n, tc.dir, zap.NewNop())
		if err != nil {
			t.Fatalf("%s: %v", tc.section, err)
		}
		if len(m.targets) != 1 || m.targets[0].String() != tc.want {
			t.Errorf("%s: got %v, want [%s]", tc.section, m.targets, tc.want)
		}
	}
	var n config.NotifyConfig
	dec := yaml.NewDecoder(strings.NewReader("{signal: {pidfile: /a, sginal: HUP}}"))
	dec.KnownFields(true)
	if err := dec.Decode(&n); err == nil {
		t.Error("a misspelt field decoded without error")
	}
}

// TestCommandPristineEnvironment: the command notifier gets PATH and what env lists, never
// the sidecar's credentials.
func TestCommandPristineEnvironment(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "hvs.CANARY-notify")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "CANARY-aws")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "CANARY-ecs")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/CANARY/gcp.json")
	t.Setenv("APP_NAME", "patas")
	out := filepath.Join(t.TempDir(), "env")
	m, _ := start(t, `{command: {args: [/bin/sh, -c, 'env > "$0"', `+out+`], env: [APP_NAME, MODE=reload, UNSET_ONE]}, debounce: 10ms, jitter: 0s}`)
	m.Changed()
	eventually(t, "the command to run", func() bool { return m.Stats().Sent == 1 })
	b, _ := os.ReadFile(out)
	got := string(b)
	if strings.Contains(got, "CANARY") {
		t.Errorf("the command saw a credential:\n%s", got)
	}
	for _, want := range []string{"APP_NAME=patas\n", "MODE=reload\n", "PATH="} {
		if !strings.Contains(got, want) {
			t.Errorf("environment lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "UNSET_ONE") {
		t.Errorf("an unset listed name appeared:\n%s", got)
	}
}
