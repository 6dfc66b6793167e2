package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// observe tees cfg's logger into an observer, so a test can wait on what the supervisor
// did (an event) instead of sleeping and asserting that nothing happened.
func observe(t *testing.T, cfg *Config) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.DebugLevel)
	cfg.Log = zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	return logs
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is an env file and a directory the child scripts write to.
type fixture struct {
	dir, env string
}

func newFixture(t *testing.T, content string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, env: filepath.Join(dir, "run", "secrets.env")}
	os.Mkdir(filepath.Join(dir, "run"), 0o755)
	if content != "" {
		f.write(t, content)
	}
	return f
}

// write replaces the env file atomically, as the sinks do.
func (f *fixture) write(t *testing.T, content string) {
	t.Helper()
	tmp := f.env + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.env); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) lines(name string) []string {
	b, _ := os.ReadFile(filepath.Join(f.dir, name))
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (f *fixture) config(t *testing.T, script string) Config {
	return Config{
		EnvFile:        f.env,
		Args:           []string{"/bin/sh", "-c", script},
		Grace:          2 * time.Second,
		Debounce:       50 * time.Millisecond,
		RestartBackoff: 50 * time.Millisecond,
		WaitTimeout:    5 * time.Second,
		Stdin:          devNull(t),
		Log:            zaptest.NewLogger(t),
	}
}

func devNull(t *testing.T) *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type runResult struct {
	code int
	err  error
}

func start(ctx context.Context, cfg Config) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		code, err := Run(ctx, cfg)
		ch <- runResult{code, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan runResult) runResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	return runResult{}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         int
	}{
		{"zero", "exit 0", 0},
		{"three", "exit 3", 3},
		{"killed by TERM", "kill -TERM $$", 128 + 15},
		{"killed by KILL", "kill -KILL $$", 128 + 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "A=1\n")
			r := wait(t, start(context.Background(), f.config(t, tc.script)))
			if r.err != nil || r.code != tc.want {
				t.Errorf("got %d, %v; want %d", r.code, r.err, tc.want)
			}
		})
	}
}

func TestEnvironmentReachesTheCommand(t *testing.T) {
	f := newFixture(t, "API_KEYS='key1:ns1,key2:ns2'\nMULTI=\"a\\nb\"\n")
	t.Setenv("INHERITED", "yes")
	t.Setenv("API_KEYS", "from-the-parent")
	cfg := f.config(t, `printf '%s|%s|%s|%s' "$API_KEYS" "$MULTI" "$INHERITED" "$PATAS_SECRETS_ENV_FILE" > "$OUT"`)
	t.Setenv("OUT", filepath.Join(f.dir, "out"))
	if r := wait(t, start(context.Background(), cfg)); r.code != 0 || r.err != nil {
		t.Fatalf("got %+v", r)
	}
	b, _ := os.ReadFile(filepath.Join(f.dir, "out"))
	if want := "key1:ns1,key2:ns2|a\nb|yes|" + f.env; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

func TestWaitsForTheFile(t *testing.T) {
	f := newFixture(t, "")
	cfg := f.config(t, `echo "$A" > "$0/out"`)
	cfg.Args = append(cfg.Args, f.dir)
	logs := observe(t, &cfg)
	ch := start(context.Background(), cfg)
	eventually(t, "the supervisor to find no env file", func() bool { return logs.FilterMessage("waiting for the env file").Len() > 0 })
	if _, err := os.Stat(filepath.Join(f.dir, "out")); err == nil {
		t.Fatal("the command ran before the env file existed")
	}
	f.write(t, "A=late\n")
	if r := wait(t, ch); r.code != 0 || r.err != nil {
		t.Fatalf("got %+v", r)
	}
	if got := f.lines("out"); len(got) != 1 || got[0] != "late" {
		t.Errorf("got %q, want [late]", got)
	}
}

func TestWaitTimeout(t *testing.T) {
	f := newFixture(t, "")
	cfg := f.config(t, "exit 0")
	cfg.WaitTimeout = 200 * time.Millisecond
	r := wait(t, start(context.Background(), cfg))
	if r.err == nil || !strings.Contains(r.err.Error(), "did not appear") || r.code == 0 {
		t.Errorf("got %+v, want an error saying the file did not appear", r)
	}
}

func TestCommandNotFound(t *testing.T) {
	f := newFixture(t, "A=1\n")
	cfg := f.config(t, "")
	cfg.Args = []string{"/nonexistent/app"}
	r := wait(t, start(context.Background(), cfg))
	if r.err == nil || r.code != 127 {
		t.Errorf("got %+v, want 127 and an error", r)
	}
}

// restartScript records each start with the value it got, then runs until told to stop.
const restartScript = `echo "$A" >> "$0/starts"; trap 'exit 0' TERM; while :; do sleep 0.05; done`

func TestRestartOnContentNotOnMtime(t *testing.T) {
	f := newFixture(t, "A=one\n")
	cfg := f.config(t, restartScript)
	cfg.Args = append(cfg.Args, f.dir)
	logs := observe(t, &cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ch := start(ctx, cfg)
	eventually(t, "the first start", func() bool { return len(f.lines("starts")) == 1 })

	// Same content, new file and new mtime: no restart, once the supervisor has compared.
	compared := logs.FilterMessage("env file compared: unchanged").Len()
	f.write(t, "A=one\n")
	later := time.Now().Add(time.Hour)
	os.Chtimes(f.env, later, later)
	eventually(t, "a comparison after the rewrite", func() bool {
		return logs.FilterMessage("env file compared: unchanged").Len() > compared
	})
	if got := f.lines("starts"); len(got) != 1 {
		t.Fatalf("after an mtime-only change: got starts %q, want one", got)
	}

	f.write(t, "A=two\n")
	eventually(t, "a restart with the new value", func() bool {
		got := f.lines("starts")
		return len(got) == 2 && got[1] == "two"
	})
	cancel()
	if r := wait(t, ch); r.code != 0 || r.err != nil {
		t.Errorf("after cancel: got %+v, want 0 (the script exits 0 on TERM)", r)
	}
}

func TestSignalInsteadOfRestart(t *testing.T) {
	f := newFixture(t, "A=one\n")
	cfg := f.config(t, `echo start >> "$0/starts"; trap 'echo usr1 >> "$0/signals"' USR1; trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	cfg.Args = append(cfg.Args, f.dir)
	cfg.Signal = syscall.SIGUSR1
	ctx, cancel := context.WithCancel(context.Background())
	ch := start(ctx, cfg)
	eventually(t, "the first start", func() bool { return len(f.lines("starts")) == 1 })
	f.write(t, "A=two\n")
	eventually(t, "SIGUSR1", func() bool { return len(f.lines("signals")) == 1 })
	if got := f.lines("starts"); len(got) != 1 {
		t.Errorf("signal mode restarted the command: starts %q", got)
	}
	cancel()
	wait(t, ch)
}

// TestFlappingSourceIsBounded rewrites the file with new content every 10ms for two
// seconds; the limiter allows at most MaxRestarts per window, and the command ends with
// the last content.
func TestFlappingSourceIsBounded(t *testing.T) {
	f := newFixture(t, "A=0\n")
	cfg := f.config(t, restartScript)
	cfg.Args = append(cfg.Args, f.dir)
	cfg.MaxRestarts = 2
	cfg.RestartWindow = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	ch := start(ctx, cfg)
	eventually(t, "the first start", func() bool { return len(f.lines("starts")) == 1 })
	end := time.Now().Add(2 * time.Second)
	i := 0
	for time.Now().Before(end) {
		i++
		f.write(t, "A="+strconv.Itoa(i)+"\n")
		time.Sleep(10 * time.Millisecond)
	}
	starts := f.lines("starts")
	if len(starts) > 1+cfg.MaxRestarts {
		t.Errorf("%d writes caused %d restarts, want at most %d", i, len(starts)-1, cfg.MaxRestarts)
	}
	eventually(t, "the last content to reach the command", func() bool {
		s := f.lines("starts")
		return len(s) > 0 && s[len(s)-1] == strconv.Itoa(i)
	})
	if got := len(f.lines("starts")) - 1; got > 2*cfg.MaxRestarts {
		t.Errorf("%d restarts, want at most %d within two windows", got, 2*cfg.MaxRestarts)
	}
	cancel()
	wait(t, ch)
}

func TestForwardedTERMEndsSupervision(t *testing.T) {
	f := newFixture(t, "A=one\n")
	cfg := f.config(t, `echo start >> "$0/starts"; trap 'exit 7' TERM; trap 'echo hup >> "$0/signals"' HUP; while :; do sleep 0.05; done`)
	cfg.Args = append(cfg.Args, f.dir)
	sigs := make(chan os.Signal, 1)
	cfg.Signals = sigs
	ch := start(context.Background(), cfg)
	eventually(t, "the first start", func() bool { return len(f.lines("starts")) == 1 })
	sigs <- syscall.SIGHUP
	eventually(t, "the forwarded SIGHUP", func() bool { return len(f.lines("signals")) == 1 })
	sigs <- syscall.SIGTERM
	f.write(t, "A=two\n") // must not cause a restart now
	if r := wait(t, ch); r.code != 7 || r.err != nil {
		t.Errorf("got %+v, want the command's own status 7", r)
	}
	if got := f.lines("starts"); len(got) != 1 {
		t.Errorf("restarted after SIGTERM: starts %q", got)
	}
}

func TestGraceThenKill(t *testing.T) {
	f := newFixture(t, "A=one\n")
	cfg := f.config(t, `trap '' TERM; echo start >> "$0/starts"; while :; do sleep 0.05; done`)
	cfg.Args = append(cfg.Args, f.dir)
	cfg.Grace = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ch := start(ctx, cfg)
	eventually(t, "the first start", func() bool { return len(f.lines("starts")) == 1 })
	cancel()
	if r := wait(t, ch); r.code != 128+9 {
		t.Errorf("got %+v, want 137 (SIGKILL after the grace period)", r)
	}
}
