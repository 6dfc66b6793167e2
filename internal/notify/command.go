package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// commandTarget runs a program, directly (no shell unless args name one), with a timeout.
// It gets a pristine environment: PATH and what env lists, never the sidecar's own
// credentials (VAULT_TOKEN, AWS_*, GOOGLE_APPLICATION_CREDENTIALS…). Its output goes to out
// (stderr), as the operator's own program's output.
type commandTarget struct {
	args    []string
	env     []string // config: NAME (passed through) or NAME=value
	timeout time.Duration
	out     io.Writer
}

// defaultPath is the child's PATH when the sidecar has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// environ builds the program's environment from the env list, looking names up with
// getenv. Never nil: a nil Env would make exec inherit everything.
func (t *commandTarget) environ(getenv func(string) (string, bool)) []string {
	path, ok := getenv("PATH")
	if !ok {
		path = defaultPath
	}
	out := []string{"PATH=" + path}
	for _, kv := range t.env {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		} else if v, ok := getenv(kv); ok {
			out = append(out, kv+"="+v)
		}
	}
	return out
}

func (t *commandTarget) String() string { return "command " + t.args[0] }

func (t *commandTarget) notify(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.args[0], t.args[1:]...)
	cmd.Stdout, cmd.Stderr = t.out, t.out
	cmd.Env = t.environ(os.LookupEnv)
	// Its own process group, so a timeout ends whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: killed after the %s timeout", t.args[0], t.timeout)
	case errors.As(err, &ee):
		return fmt.Errorf("%s: %v", t.args[0], ee.ProcessState)
	default:
		return fmt.Errorf("running %s: %w", t.args[0], err)
	}
}
