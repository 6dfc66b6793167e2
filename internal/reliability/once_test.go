package reliability

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv/faultproxy"
)

// onceDeadline is the engine's default FetchTimeout: `once` has no flag of its own, so
// one read that hangs ends there (docs/reliability.md).
const onceDeadline = 30 * time.Second

// onceCase is a fault for `once` and what its message must say.
type onceCase struct {
	fault faultproxy.Fault
	says  []string      // any of these, case-insensitive
	env   []string      // added to the binary's environment
	limit time.Duration // default onceDeadline
}

// TestOnceUnderFaultGCP waits out the default 30 s deadline: PATAS_FAULTS=all only.
func TestOnceUnderFaultGCP(t *testing.T) {
	if !allFaults() {
		t.Skip("takes the full 30 s FetchTimeout; run with PATAS_FAULTS=all")
	}
	t.Parallel()
	onceUnderFaults(t, gcpTarget, []onceCase{
		// The gcp backend retries UNAVAILABLE (a reset) until its deadline, like the
		// library does, so both take the full FetchTimeout.
		{fault: faultproxy.Fault{Kind: faultproxy.Hang}, says: []string{"deadline exceeded"}},
	})
}

func TestOnceUnderFaultVault(t *testing.T) {
	t.Parallel()
	onceUnderFaults(t, vaultTarget, []onceCase{
		{fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 503}, says: []string{"503"}},
		{fault: faultproxy.Fault{Kind: faultproxy.Throttle}, says: []string{"429"}},
		{fault: faultproxy.Fault{Kind: faultproxy.Truncate}, says: []string{"eof"}},
		{fault: faultproxy.Fault{Kind: faultproxy.Reset}, says: []string{"reset"}},
		// The Vault client's own per-request timeout, set the standard way, ends a hang
		// well before the engine's deadline.
		{fault: faultproxy.Fault{Kind: faultproxy.Hang}, says: []string{"deadline exceeded", "timeout"},
			env: []string{"VAULT_CLIENT_TIMEOUT=2s", "VAULT_MAX_RETRIES=0"}, limit: 2 * time.Second},
	})
}

// onceUnderFaults runs the real binary: a first `once` without a fault writes the outputs;
// then, with a new value in the server and each fault on, `once` must exit 1 within its
// deadline, say what went wrong and which ref, leave every output byte for byte, and never
// print the value.
func onceUnderFaults(t *testing.T, open func(*testing.T, *logs) target, cases []onceCase) {
	bin := patasBinary(t)
	tg := open(t, newLogs())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "patas.yaml")
	if err := os.WriteFile(cfg, []byte(`
environment: test
backends:
  `+tg.yaml+`
secrets:
  - {env: API_KEY, ref: "`+tg.ref+`"}
outputs:
  - {format: dotenv, path: out/secrets.env}
  - {format: files, path: out/files}
listen: "off"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	runOnce := func(env ...string) (int, string, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), onceDeadline+30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "once", "--config", cfg)
		cmd.Env = append(append(os.Environ(), tg.env...), env...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		start := time.Now()
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, stderr.String(), time.Since(start)
		case errors.As(err, &ee):
			return ee.ExitCode(), stderr.String(), time.Since(start)
		}
		t.Fatalf("running once: %v", err)
		return 0, "", 0
	}
	tg.rotate(t, "first-"+canary)
	if code, out, _ := runOnce(); code != 0 {
		t.Fatalf("once without a fault: exit %d\n%s", code, out)
	}
	paths := []string{filepath.Join(dir, "out/secrets.env"), filepath.Join(dir, "out/files/API_KEY")}
	good := readOutputs(t, paths...)
	tg.rotate(t, "second-"+canary)
	for _, c := range cases {
		t.Run(c.fault.String(), func(t *testing.T) {
			tg.proxy.Set(c.fault)
			defer tg.proxy.Clear()
			code, out, took := runOnce(c.env...)
			if code != 1 {
				t.Errorf("exit status %d, want 1\n%s", code, out)
			}
			limit := cmp.Or(c.limit, onceDeadline)
			if took > limit+15*time.Second { // slack for a loaded machine
				t.Errorf("once took %s, past its deadline (%s)", took, limit)
			}
			last := lastLine(out)
			if !strings.HasPrefix(last, "patas-secrets: ") || !strings.Contains(last, "secrets[0] (API_KEY)") || !containsAny(strings.ToLower(last), c.says) {
				t.Errorf("last line %q: want patas-secrets: <error> naming the entry and saying one of %q", last, c.says)
			}
			if got := readOutputs(t, paths...); got[paths[0]] != good[paths[0]] || got[paths[1]] != good[paths[1]] {
				t.Errorf("outputs changed by a failed once:\ngot  %q\nwant %q", got, good)
			}
			if left := tempFiles(t, filepath.Join(dir, "out")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			noCanary(t, map[string]string{"once's output": out})
			t.Logf("exit %d after %s: %s", code, took.Round(10*time.Millisecond), last)
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
