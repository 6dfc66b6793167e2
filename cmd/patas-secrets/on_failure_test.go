package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestRunOnFailure drives refresh.on_failure through the binary: the secret disappears
// after a good first write. With exit, run exits 1 after retry.attempts failed refreshes
// and the last good file stays. With keep_serving (the default), run keeps going and
// /healthz (liveness) stays 200 while the refreshes fail.
func TestRunOnFailure(t *testing.T) {
	for _, mode := range []string{"exit", "keep_serving"} {
		t.Run(mode, func(t *testing.T) {
			addr := testenv.FreeAddr(t)
			dir := project(t, `backends: {swarm: {type: file, dir: secrets}}
secrets: [{env: A, ref: 'swarm:a'}]
outputs: [{format: dotenv, path: out.env}]
refresh: {interval: 1h, on_failure: `+mode+`, retry: {attempts: 3, backoff: 50ms, max_backoff: 100ms}}
listen: `+addr+`
`, map[string]string{"a": "first-value"})
			out := filepath.Join(dir, "out.env")
			cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "patas.yaml"))
			var errb syncBuffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer cmd.Process.Kill()
			waitUntil(t, "first write", func() bool { b, _ := os.ReadFile(out); return string(b) == "A='first-value'\n" })
			os.Remove(filepath.Join(dir, "secrets", "a")) // the watch triggers the failing refreshes

			if mode == "exit" {
				select {
				case err := <-exited:
					ee, ok := err.(*exec.ExitError)
					if !ok || ee.ExitCode() != exitFailed || !strings.Contains(errb.String(), "retries exhausted: 3 consecutive refreshes failed") {
						t.Errorf("got %v, want exit %d with retries exhausted:\n%s", err, exitFailed, errb.String())
					}
				case <-time.After(time.Minute):
					t.Fatalf("run did not exit:\n%s", errb.String())
				}
			} else {
				waitUntil(t, "more failures than retry.attempts", func() bool {
					return strings.Contains(errb.String(), `"consecutive_failures":5`)
				})
				resp, err := http.Get("http://" + addr + "/healthz")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("/healthz during the outage: got %d, want 200 (alive, serving the last good outputs)", resp.StatusCode)
				}
				select {
				case err := <-exited:
					t.Fatalf("run exited (%v) with on_failure: keep_serving", err)
				default:
				}
			}
			if b, _ := os.ReadFile(out); string(b) != "A='first-value'\n" {
				t.Errorf("output after the failures: got %q, want the last good one", b)
			}
		})
	}
}
