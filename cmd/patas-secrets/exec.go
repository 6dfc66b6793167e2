package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/supervisor"
)

// forwardedSignals reach the command; SIGTERM, SIGINT and SIGQUIT also end supervision.
var forwardedSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH,
}

func execFlags(fs *pflag.FlagSet) {
	// Flags end at the command: exec --env-file F uvicorn app --port 8000 leaves --port to it.
	fs.SetInterspersed(false)
	fs.String("env-file", "", "the env file to load (dotenv or shell format), e.g. /run/patas/secrets.env (required)")
	fs.Bool("restart", false, "restart the command when the file changes (the default)")
	fs.String("signal", "", "send this signal (e.g. SIGHUP) on a change instead of restarting")
	fs.Duration("wait-timeout", supervisor.DefaultWaitTimeout, "how long to wait for the env file to appear")
	fs.Duration("grace", supervisor.DefaultGrace, "on restart, how long after SIGTERM before SIGKILL")
	fs.Duration("debounce", supervisor.DefaultDebounce, "how long after a file event to compare the content")
	fs.Int("max-restarts", supervisor.DefaultMaxRestarts, "at most this many restarts (or signals) per --restart-window")
	fs.Duration("restart-window", supervisor.DefaultRestartWindow, "the window of --max-restarts")
	fs.Duration("restart-backoff", supervisor.DefaultRestartBackoff, "first spacing between restarts in a window; doubles each time")
	fs.StringSlice("allow-env", nil, "a variable the env file may set although it is a loader, interpreter or shell one (LD_*, PATH, PYTHON*…); repeatable")
	fs.StringSlice("listen", nil, "bind this TCP address (e.g. 0.0.0.0:8000) here and hand the socket to the command as fd 3 (the next as fd 4…), kept open across restarts so clients wait instead of being refused (uvicorn --fd 3, gunicorn --bind fd://3); repeatable")
	fs.Bool("subreaper", false, "adopt and reap orphaned descendants, as PID 1 does (automatic when PID 1)")
}

// exitStatus makes the process exit with the command's status; err, when set, is printed.
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e exitStatus) Unwrap() error { return e.err }

// runExec is the entrypoint wrapper: patas-secrets exec --env-file F -- CMD ARGS…
func runExec(ctx context.Context, env *cmdEnv) error {
	fs := env.flags
	envFile, _ := fs.GetString("env-file")
	restart, _ := fs.GetBool("restart")
	sigName, _ := fs.GetString("signal")
	cfg := supervisor.Config{EnvFile: envFile, Args: env.args, Log: env.log}
	cfg.WaitTimeout, _ = fs.GetDuration("wait-timeout")
	cfg.Grace, _ = fs.GetDuration("grace")
	cfg.Debounce, _ = fs.GetDuration("debounce")
	cfg.MaxRestarts, _ = fs.GetInt("max-restarts")
	cfg.RestartWindow, _ = fs.GetDuration("restart-window")
	cfg.RestartBackoff, _ = fs.GetDuration("restart-backoff")
	subreaper, _ := fs.GetBool("subreaper")
	cfg.AllowEnv, _ = fs.GetStringSlice("allow-env")

	switch {
	case envFile == "":
		return usageError{errors.New("exec needs --env-file PATH")}
	case len(env.args) == 0:
		return usageError{errors.New("exec needs a command: patas-secrets exec --env-file PATH -- CMD ARGS…")}
	case restart && sigName != "":
		return usageError{errors.New("--restart and --signal exclude each other")}
	}
	for name, d := range map[string]time.Duration{"wait-timeout": cfg.WaitTimeout, "grace": cfg.Grace, "debounce": cfg.Debounce,
		"restart-window": cfg.RestartWindow, "restart-backoff": cfg.RestartBackoff} {
		if d <= 0 {
			return usageError{fmt.Errorf("--%s must be positive, got %s", name, d)}
		}
	}
	if cfg.MaxRestarts < 1 {
		return usageError{fmt.Errorf("--max-restarts must be at least 1, got %d", cfg.MaxRestarts)}
	}
	if sigName != "" {
		s, err := config.ParseSignal(sigName)
		if err != nil {
			return usageError{fmt.Errorf("--signal: %w", err)}
		}
		cfg.Signal = s
	}
	addrs, _ := fs.GetStringSlice("listen")
	listeners, err := listen(addrs)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range listeners {
			f.Close()
		}
	}()
	cfg.Listeners = listeners
	cfg.Reap = os.Getpid() == 1
	if subreaper {
		if err := supervisor.BecomeSubreaper(); err != nil {
			return err
		}
		cfg.Reap = true
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	cfg.Signals = sigs

	// SIGTERM and SIGINT are the command's to handle: they are forwarded, and supervision
	// ends when the command exits, so main's cancellation on them must not stop it early.
	code, err := supervisor.Run(context.WithoutCancel(ctx), cfg)
	if code != 0 || err != nil {
		return exitStatus{code: max(code, 1), err: err}
	}
	return nil
}

// listen binds each address and returns the sockets as files for the command's fds 3, 4, ….
func listen(addrs []string) (files []*os.File, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
		}
	}()
	for _, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return files, usageError{fmt.Errorf("--listen %s: %w", addr, err)}
		}
		f, err := l.(*net.TCPListener).File() // a duplicate: the socket lives on in f
		l.Close()
		if err != nil {
			return files, fmt.Errorf("--listen %s: %w", addr, err)
		}
		files = append(files, f)
	}
	return files, nil
}
