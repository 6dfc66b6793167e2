package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execFixture is an env file in its own directory, as on the shared tmpfs.
func execFixture(t *testing.T, content string) (dir, envFile string) {
	t.Helper()
	dir = t.TempDir()
	envFile = filepath.Join(dir, "run", "secrets.env")
	os.Mkdir(filepath.Join(dir, "run"), 0o755)
	writeAtomic(t, envFile, content)
	return dir, envFile
}

func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func readLines(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestExecPassesExitStatus(t *testing.T) {
	_, env := execFixture(t, "A=1\n")
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0}, {"exit 42", 42}, {"kill -TERM $$", 143}, {"kill -KILL $$", 137}, {`test "$A" = 1`, 0},
	} {
		r := runBin(t, nil, "exec", "--env-file", env, "--", "sh", "-c", tc.script)
		if r.code != tc.want {
			t.Errorf("%s: got exit %d, want %d (%s)", tc.script, r.code, tc.want, r.stderr)
		}
	}
	if r := runBin(t, nil, "exec", "--env-file", env, "--", "/nonexistent/app"); r.code != 127 {
		t.Errorf("missing command: got exit %d, want 127", r.code)
	}
	// Without "--", flags end at the command: the command's own flags are its.
	if r := runBin(t, nil, "exec", "--env-file", env, "sh", "-c", `test "$0" = --port && exit 9`, "--port"); r.code != 9 {
		t.Errorf("command flags without --: got exit %d, want 9 (%s)", r.code, r.stderr)
	}
	if r := runBin(t, nil, "exec", "--", "true"); r.code != exitUsage {
		t.Errorf("no --env-file: got exit %d, want %d", r.code, exitUsage)
	}
	if r := runBin(t, nil, "exec", "--env-file", env, "--signal", "SIGNOPE", "--", "true"); r.code != exitUsage {
		t.Errorf("bad --signal: got exit %d, want %d", r.code, exitUsage)
	}
}

// TestExecForwardsSignals sends SIGHUP then SIGTERM to exec: the command sees both, and
// exec exits with the command's own status.
func TestExecForwardsSignals(t *testing.T) {
	dir, env := execFixture(t, "A=1\n")
	cmd := exec.Command(bin, "exec", "--env-file", env, "--", "sh", "-c",
		`trap 'echo hup >> "$0/sigs"' HUP; trap 'echo term >> "$0/sigs"; exit 5' TERM; echo up > "$0/up"; while :; do sleep 0.05; done`, dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUntil(t, "the command to start", func() bool { return len(readLines(filepath.Join(dir, "up"))) == 1 })
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "SIGHUP to reach the command", func() bool { return len(readLines(filepath.Join(dir, "sigs"))) == 1 })
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Errorf("got %v, want exit status 5 (the command's)", err)
	}
	if got := readLines(filepath.Join(dir, "sigs")); strings.Join(got, ",") != "hup,term" {
		t.Errorf("the command saw %q, want [hup term] (once each)", got)
	}
}

// TestExecRestartsOnContentOnly touches the env file (new mtime, same content), then
// changes it; only the change restarts the command. No value appears in exec's output.
func TestExecRestartsOnContentOnly(t *testing.T) {
	const canary = "CANARY-exec-9d2e"
	dir, env := execFixture(t, "A='"+canary+"-1'\n")
	cmd := exec.Command(bin, "exec", "--log-level", "debug", "--env-file", env, "--debounce", "50ms", "--", "sh", "-c",
		`echo "$A" >> "$0/starts"; trap 'exit 0' TERM; while :; do sleep 0.05; done`, dir)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	starts := filepath.Join(dir, "starts")
	waitUntil(t, "the first start", func() bool { return len(readLines(starts)) == 1 })
	const compared = "env file compared: unchanged"
	before := strings.Count(out.String(), compared)
	writeAtomic(t, env, "A='"+canary+"-1'\n")
	later := time.Now().Add(time.Hour)
	os.Chtimes(env, later, later)
	waitUntil(t, "exec to compare the rewritten file", func() bool { return strings.Count(out.String(), compared) > before })
	if got := readLines(starts); len(got) != 1 {
		t.Fatalf("an mtime-only change restarted the command: starts %q", got)
	}
	writeAtomic(t, env, "A='"+canary+"-2'\n")
	waitUntil(t, "a restart with the new value", func() bool {
		got := readLines(starts)
		return len(got) == 2 && got[1] == canary+"-2"
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exec after SIGTERM: %v, want 0", err)
	}
	if strings.Contains(out.String(), canary) {
		t.Errorf("exec printed a value:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "env file changed") {
		t.Errorf("the change was not logged, so the canary scan proves little:\n%s", out.String())
	}
}

// TestExecReapsOrphans runs exec as a child subreaper (what PID 1 is) with a command whose
// own child leaves an orphan behind; the orphan is adopted by exec and, once it exits,
// reaped rather than left a zombie.
func TestExecReapsOrphans(t *testing.T) {
	dir, env := execFixture(t, "A=1\n")
	cmd := exec.Command(bin, "exec", "--subreaper", "--env-file", env, "--", "sh", "-c",
		`echo $$ > "$0/main.pid"; sh -c 'sleep 2 &'; exec sleep 60`, dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sup := cmd.Process.Pid
	var mainPid int
	waitUntil(t, "the command's pid", func() bool {
		mainPid, _ = strconv.Atoi(strings.Join(readLines(filepath.Join(dir, "main.pid")), ""))
		return mainPid > 0
	})
	orphan := 0
	waitUntil(t, "the orphan to be adopted by exec", func() bool {
		for pid := range childrenOf(sup) {
			if pid != mainPid {
				orphan = pid
				return true
			}
		}
		return false
	})
	waitUntil(t, "the orphan to be reaped", func() bool {
		_, ok := childrenOf(sup)[orphan]
		return !ok
	})
	for pid, state := range childrenOf(sup) {
		if state == "Z" {
			t.Errorf("zombie %d left under exec", pid)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// childrenOf maps the pids whose parent is ppid to their state (R, S, Z …).
func childrenOf(ppid int) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[1] == strconv.Itoa(ppid) {
			out[pid] = f[0]
		}
	}
	return out
}

func TestInstallCopiesAnExecutable(t *testing.T) {
	dir := t.TempDir()
	r := runBin(t, nil, "install", dir)
	if r.code != 0 {
		t.Fatalf("install: %+v", r)
	}
	dst := filepath.Join(dir, "patas-secrets")
	st, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("mode: got %v, want 0755", st.Mode().Perm())
	}
	out, err := exec.Command(dst, "version").Output()
	if err != nil || !strings.Contains(string(out), "patas-secrets") {
		t.Errorf("the installed copy does not run: %v %q", err, out)
	}
	// Installing again over the copy (even while it runs) replaces it atomically.
	running := exec.Command(dst, "exec", "--env-file", filepath.Join(dir, "never"), "--wait-timeout", "30s", "--", "true")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { running.Process.Kill(); running.Wait() }()
	if r := runBin(t, nil, "install", dir); r.code != 0 {
		t.Errorf("second install over a running copy: %+v", r)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("install left files behind: %v", ents)
	}
	if r := runBin(t, nil, "install", filepath.Join(dir, "missing")); r.code == 0 {
		t.Error("install into a missing directory succeeded")
	}
}

// TestExecRefusesDeniedVariables: the env file lives on a shared volume; one that sets
// LD_PRELOAD (or PATH, PYTHONSTARTUP…) does not start the command, and the error names the
// variable, never the value, unless --allow-env names it.
func TestExecRefusesDeniedVariables(t *testing.T) {
	const canary = "/tmp/evil-canary-7f3a.so"
	dir, env := execFixture(t, "API_KEYS=k1\nLD_PRELOAD="+canary+"\n")
	marker := filepath.Join(dir, "ran")
	r := runBin(t, nil, "exec", "--env-file", env, "--", "sh", "-c", `touch "$0"`, marker)
	if r.code == 0 || !strings.Contains(r.stderr, "LD_PRELOAD") || !strings.Contains(r.stderr, "--allow-env LD_PRELOAD") {
		t.Errorf("got exit %d, stderr %s; want a failure naming LD_PRELOAD", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, canary) {
		t.Errorf("stderr holds the value: %s", r.stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran with LD_PRELOAD from the env file")
	}
	r = runBin(t, nil, "exec", "--env-file", env, "--allow-env", "LD_PRELOAD", "--", "sh", "-c", `test "$LD_PRELOAD" = "$0"`, canary)
	if r.code != 0 {
		t.Errorf("with --allow-env LD_PRELOAD: got exit %d (%s)", r.code, r.stderr)
	}
}

// TestOnceRefusesDeniedKeys drives the denylist through the real file backend and the
// binary: a JSON secret whose keys name LD_PRELOAD and PATH fails once, naming key and
// entry, and writes nothing.
func TestOnceRefusesDeniedKeys(t *testing.T) {
	const canary = "/evil-canary-91c2"
	dir := project(t, `
backends: {files: {type: file, dir: secrets}}
secrets:
  - ref: files:app.json
    expand: true
outputs: [{format: dotenv, path: out/secrets.env}]
`, map[string]string{"app.json": `{"api_keys":"k1","LD_PRELOAD":"` + canary + `","path":"` + canary + `"}`})
	r := runBin(t, nil, "once", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != exitFailed || !strings.Contains(r.stderr, `secrets[0] (files:app.json): key "LD_PRELOAD" would set LD_PRELOAD`) ||
		!strings.Contains(r.stderr, `key "path" would set PATH`) {
		t.Errorf("got exit %d, stderr %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, canary) {
		t.Errorf("stderr holds the value: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "secrets.env")); err == nil {
		t.Error("an output was written")
	}
}

// TestExecListen: --listen hands the bound socket to the command as fd 3 (a listening TCP
// socket on the address asked for); an address that cannot be bound is a usage error that
// names the flag, before any command runs.
func TestExecListen(t *testing.T) {
	_, env := execFixture(t, "A=1\n")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	probe := `import socket; s = socket.socket(fileno=3); ` +
		`assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1; print(s.getsockname()[0])`
	r := runBin(t, nil, "exec", "--env-file", env, "--listen", "127.0.0.2:0", "--", "python3", "-c", probe)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "127.0.0.2" {
		t.Errorf("fd 3: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, nil, "exec", "--env-file", env, "--listen", taken.Addr().String(), "--", "sh", "-c", "exit 7")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--listen "+taken.Addr().String()) {
		t.Errorf("address in use: exit %d, want %d and the flag named (%s)", r.code, exitUsage, r.stderr)
	}
}
