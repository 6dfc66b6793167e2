package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitExit waits for cmd, failing the test (and killing it) if it has not ended within
// a minute: the bug this guards against is a process that never ends.
func waitExit(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running a minute later; killed", cmd.Args)
		return nil
	}
}

// TestFIFOAtARef: a named pipe where a secret file should be is refused before it is
// opened, through the binary: once fails naming it (instead of blocking in open()
// forever), and run keeps running (and retrying) until SIGTERM ends it.
func TestFIFOAtARef(t *testing.T) {
	cfg := "backends: {swarm: {type: file, dir: secrets}}\nsecrets: [{env: A, ref: 'swarm:a'}]\noutputs: [{format: dotenv, path: out.env}]\nrefresh: {interval: 1h}\nlisten: \"off\"\n"
	dir := project(t, cfg, nil)
	if err := unix.Mkfifo(filepath.Join(dir, "secrets", "a"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("once", func(t *testing.T) {
		cmd := exec.Command(bin, "once", "--config", filepath.Join(dir, "patas.yaml"))
		var errb syncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		err := waitExit(t, cmd)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitFailed || !strings.Contains(errb.String(), "is a named pipe (FIFO)") {
			t.Errorf("got %v, stderr %s; want exit %d naming the FIFO", err, errb.String(), exitFailed)
		}
	})
	t.Run("run", func(t *testing.T) {
		cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "patas.yaml"))
		var errb syncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		waitUntil(t, "run to report the FIFO", func() bool { return strings.Contains(errb.String(), "is a named pipe (FIFO)") })
		cmd.Process.Signal(syscall.SIGTERM)
		if err := waitExit(t, cmd); err != nil {
			t.Errorf("run after SIGTERM: %v (%s)", err, errb.String())
		}
	})
}

// TestSIGTERMEndsAStuckRead: with a read stuck where no context reaches it (here the config
// file is a FIFO whose writer never writes: --config <(…) from a process that hangs), SIGTERM
// still ends once and run, with exit 1 and a message, within shutdownBound.
func TestSIGTERMEndsAStuckRead(t *testing.T) {
	for _, sub := range []string{"once", "run"} {
		t.Run(sub, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "patas.yaml")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, sub, "--config", fifo)
			var errb syncBuffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			// A non-blocking open for writing succeeds only once a reader has the FIFO
			// open (or is in open()): the barrier that the process is in its read. Keeping
			// our end open without writing leaves that read blocked.
			var w int
			waitUntil(t, sub+" to open the config FIFO", func() bool {
				fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
				w = fd
				return err == nil
			})
			defer unix.Close(w)
			cmd.Process.Signal(syscall.SIGTERM)
			err := waitExit(t, cmd)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitFailed || !strings.Contains(errb.String(), "still stuck") {
				t.Errorf("got %v, stderr %q; want exit %d after the shutdown bound", err, errb.String(), exitFailed)
			}
		})
	}
}

// TestCheckConnectRunsOutputChecks: check --connect refuses what once refuses, here a
// value with ${X} that a dotenv output cannot carry (python-dotenv would expand it), and
// writes nothing either way.
func TestCheckConnectRunsOutputChecks(t *testing.T) {
	dir := project(t, "backends: {swarm: {type: file, dir: secrets}}\nsecrets: [{env: A, ref: 'swarm:a'}]\noutputs: [{format: dotenv, path: out.env}]\n",
		map[string]string{"a": "pre${X}post"})
	cfg := filepath.Join(dir, "patas.yaml")
	once := runBin(t, nil, "once", "--config", cfg)
	check := runBin(t, nil, "check", "--connect", "--config", cfg)
	if once.code != exitFailed || !strings.Contains(once.stderr, "format dotenv cannot carry A") {
		t.Fatalf("once: got %+v; the test assumes once refuses this value", once)
	}
	if check.code != exitFailed || !strings.Contains(check.stderr, "format dotenv cannot carry A") {
		t.Errorf("check --connect: got exit %d, stdout %q, stderr %q; want the refusal once gives", check.code, check.stdout, check.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.env")); err == nil {
		t.Error("an output was written")
	}
}

// TestOnceTimeout: once --timeout gives up when a backend never answers (here a Vault
// address that accepts connections and says nothing), well before the per-read timeout,
// with exit 1 and nothing written; SIGHUP while run is still loading its config does not
// kill it.
func TestOnceTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	dir := project(t, "backends: {vault: {type: vault, address: \"http://"+l.Addr().String()+"\"}}\nsecrets: [{env: A, ref: 'vault:secret/a#k'}]\noutputs: [{format: dotenv, path: out.env}]\n", nil)
	cmd := exec.Command(bin, "once", "--timeout", "2s", "--config", filepath.Join(dir, "patas.yaml"))
	cmd.Env = append(os.Environ(), "VAULT_TOKEN=t")
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = waitExit(t, cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed || !strings.Contains(errb.String(), "--timeout 2s reached") {
		t.Errorf("got %v, stderr %s; want exit %d naming --timeout", err, errb.String(), exitFailed)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.env")); err == nil {
		t.Error("an output was written")
	}
	if r := runBin(t, nil, "once", "--timeout", "-1s", "--config", filepath.Join(dir, "patas.yaml")); r.code != exitUsage {
		t.Errorf("negative --timeout: exit %d, want %d", r.code, exitUsage)
	}
}

// TestSIGHUPDuringSetup: a SIGHUP that arrives while run is still loading its config (here
// from a FIFO, so the moment is held open) neither kills it nor is lost.
func TestSIGHUPDuringSetup(t *testing.T) {
	dir := project(t, "", map[string]string{"a": "one"})
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", fifo)
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var w *os.File
	waitUntil(t, "run to open its config", func() bool {
		fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			w = os.NewFile(uintptr(fd), fifo)
		}
		return err == nil
	})
	cmd.Process.Signal(syscall.SIGHUP)
	fmt.Fprintf(w, "backends: {swarm: {type: file, dir: %s}}\nsecrets: [{env: A, ref: 'swarm:a'}]\noutputs: [{format: dotenv, path: %s}]\nrefresh: {interval: 1h, watch: false}\nlisten: \"off\"\n",
		filepath.Join(dir, "secrets"), filepath.Join(dir, "out.env"))
	w.Close()
	out := filepath.Join(dir, "out.env")
	waitUntil(t, "the first write", func() bool { b, _ := os.ReadFile(out); return string(b) == "A='one'\n" })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitExit(t, cmd); err != nil {
		t.Errorf("run after SIGHUP during setup, then SIGTERM: %v, want exit 0 (%s)", err, errb.String())
	}
}
