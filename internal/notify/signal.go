package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/patas/patas-secrets/internal/config"
)

// ErrNoProcess means the process to signal is not running.
var ErrNoProcess = errors.New("no such process")

// pidfileTarget signals the process whose id is in a pidfile.
type pidfileTarget struct {
	path string
	sig  syscall.Signal
}

func (t *pidfileTarget) String() string { return config.SignalName(t.sig) + " to pidfile " + t.path }

func (t *pidfileTarget) notify(context.Context) error {
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("reading pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		// kill(0) or kill(-1) would signal whole groups: only a positive id is used.
		return fmt.Errorf("pidfile %s does not hold a process id", t.path)
	}
	if pid == os.Getpid() {
		return fmt.Errorf("pidfile %s names patas-secrets itself", t.path)
	}
	return kill(pid, t.sig)
}

func kill(pid int, sig syscall.Signal) error {
	switch err := syscall.Kill(pid, sig); {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ESRCH):
		return fmt.Errorf("process %d: %w", pid, ErrNoProcess)
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("process %d: not permitted to signal it (run as the same user, or with CAP_KILL): %w", pid, err)
	default:
		return fmt.Errorf("signalling process %d: %w", pid, err)
	}
}

// processTarget signals every process with a given name, for a pod with
// shareProcessNamespace: true (or a task with pidMode: task). A process matches when its
// name (comm), the base name of its program (argv[0]) or of its first argument (argv[1],
// for an interpreter: python3 /usr/local/bin/uvicorn) equals name.
type processTarget struct {
	name string
	sig  syscall.Signal
	proc string // /proc
}

func (t *processTarget) String() string {
	return config.SignalName(t.sig) + " to processes named " + t.name
}

func (t *processTarget) notify(context.Context) error {
	pids, err := t.find()
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return fmt.Errorf("no process named %s (does the pod share its process namespace?): %w", t.name, ErrNoProcess)
	}
	var errs []error
	for _, pid := range pids {
		if err := kill(pid, t.sig); err != nil && !errors.Is(err, ErrNoProcess) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *processTarget) find() ([]int, error) {
	ents, err := os.ReadDir(t.proc)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	self := os.Getpid()
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		dir := filepath.Join(t.proc, e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue // gone, or not ours to read
		}
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		comm := s[open+1 : close]
		if f := strings.Fields(s[close+1:]); len(f) == 0 || f[0] == "Z" || f[0] == "X" {
			continue // a zombie cannot act on a signal
		}
		match := comm == t.name
		if !match {
			cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
			args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
			for i := 0; i < len(args) && i < 2 && !match; i++ {
				match = args[i] != "" && filepath.Base(args[i]) == t.name
			}
		}
		if match {
			out = append(out, pid)
		}
	}
	return out, nil
}
