package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// child is the running command. Its pid stays ours until we reap it (we never call
// os.Process.Wait: one reaper collects every exit, orphans included when Reap is on).
type child struct {
	pid      int
	ownGroup bool // started in its own process group (leader pid)
}

// startChild starts argv with env. Stdin, stdout and stderr are handed over as they are.
func startChild(argv, env []string, files []*os.File, ownGroup bool) (*child, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	p, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: ownGroup},
	})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	c := &child{pid: p.Pid, ownGroup: ownGroup}
	_ = p.Release() // we signal and reap by pid ourselves; this frees the pidfd
	return c, nil
}

// signal sends sig to the child alone.
func (c *child) signal(sig syscall.Signal) error {
	if err := syscall.Kill(c.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// kill sends SIGKILL to the child's whole process group (when it has one), so workers it
// started do not outlive it and hold its port.
func (c *child) kill() {
	if c.ownGroup {
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(c.pid, syscall.SIGKILL)
}

// reap collects exited children without blocking. It returns the wait status of pid when
// pid has exited. With all set it also collects any other child (orphans re-parented to
// us when we are PID 1 or a subreaper) and reports how many.
func reap(pid int, all bool) (exited bool, ws syscall.WaitStatus, orphans int) {
	target := pid
	if all {
		target = -1
	}
	if target == 0 {
		return false, 0, 0
	}
	for {
		var st syscall.WaitStatus
		got, err := syscall.Wait4(target, &st, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return exited, ws, orphans
		}
		if got == pid {
			exited, ws = true, st
			if !all {
				return exited, ws, orphans
			}
			continue
		}
		orphans++
	}
}

// exitCode is the shell's convention: the exit status, or 128+signal when killed.
func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 1
}

// BecomeSubreaper makes this process adopt the orphans of its descendants (as PID 1
// does), so Run with Reap set can collect them. Linux only.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("becoming a child subreaper: %w", err)
	}
	return nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
