package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// commandTarget runs a program, directly (no shell unless args name one), with a timeout.
// It gets this process's environment; its output goes to out (stderr), as the operator's
// own program's output.
type commandTarget struct {
	args    []string
	timeout time.Duration
	out     io.Writer
}

func (t *commandTarget) String() string { return "command " + t.args[0] }

func (t *commandTarget) notify(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.args[0], t.args[1:]...)
	cmd.Stdout, cmd.Stderr = t.out, t.out
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
