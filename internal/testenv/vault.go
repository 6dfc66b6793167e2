package testenv

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// VaultRootToken is the root token of every dev server StartVault starts.
const VaultRootToken = "root"

// Vault is a dev-mode Vault server (in memory, unsealed, KV v2 at secret/) started for one
// test and stopped when it ends.
type Vault struct {
	Addr  string // http://127.0.0.1:PORT
	Token string // the root token
	bin   string
	logs  *procOutput
}

const vaultHow = "run scripts/test.sh, or `source scripts/prepare.d/vault.sh`, which builds Vault v1.14.1 and sets PATAS_TEST_VAULT_BIN"

// StartVault starts `vault server -dev` on a free loopback port. It never writes
// ~/.vault-token (-dev-no-store-token) and ignores the caller's VAULT_* environment.
func StartVault(t testing.TB) *Vault {
	t.Helper()
	bin := Binary(t, "PATAS_TEST_VAULT_BIN", "vault", vaultHow)
	hostport := FreeAddr(t)
	v := &Vault{Addr: "http://" + hostport, Token: VaultRootToken, bin: bin, logs: &procOutput{}}
	cmd := exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+VaultRootToken,
		"-dev-listen-address="+hostport,
		"-dev-no-store-token")
	cmd.Env = append(cleanVaultEnv(), "HOME="+t.TempDir())
	cmd.Stdout, cmd.Stderr = v.logs, v.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting vault: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	if err := waitHTTPReady(v.Addr+"/v1/sys/health", exited, time.Minute); err != nil {
		t.Fatalf("vault did not become ready: %v\n%s", err, v.logs.String())
	}
	return v
}

// CLI runs the vault command against the server as root, like an operator would, and
// returns its standard output. It fails t on a non-zero exit.
func (v *Vault) CLI(t testing.TB, args ...string) string {
	t.Helper()
	return v.CLIWithToken(t, v.Token, args...)
}

// CLIWithToken is CLI with another token.
func (v *Vault) CLIWithToken(t testing.TB, token string, args ...string) string {
	t.Helper()
	out, err := v.TryCLI(token, "", args...)
	if err != nil {
		t.Fatalf("vault %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TryCLI runs the vault command with token and stdin and returns its combined output.
func (v *Vault) TryCLI(token, stdin string, args ...string) (string, error) {
	cmd := exec.Command(v.bin, args...)
	cmd.Env = append(cleanVaultEnv(), "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+token, "HOME="+os.TempDir())
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Logs returns what the server printed so far.
func (v *Vault) Logs() string { return v.logs.String() }

func cleanVaultEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitHTTPReady polls url until it answers (any status below 500), the process exits, or timeout.
func waitHTTPReady(url string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errProcExited
		case <-tick.C:
		}
	}
}

type procExitError string

func (e procExitError) Error() string { return string(e) }

const errProcExited = procExitError("the server exited")

// procOutput collects a child's output from its two pipes.
type procOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *procOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *procOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
