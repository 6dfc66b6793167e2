// Package supervisor runs the application as a child of patas-secrets exec: it waits for
// the env file, starts the command with the file's variables, restarts it (or signals it)
// when the file's content changes, forwards signals, reaps orphans when it is PID 1, and
// returns the command's exit status.
package supervisor

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/envpolicy"
	"github.com/patas/patas-secrets/internal/saferead"
	"github.com/patas/patas-secrets/sinks"
)

// Config says what to run and how to react to changes. Zero durations take the defaults.
type Config struct {
	EnvFile string
	Args    []string // the command and its arguments

	// Signal, when set, is sent to the command on a change instead of restarting it.
	Signal syscall.Signal
	// WaitTimeout bounds the wait for the env file to appear (default 60s).
	WaitTimeout time.Duration
	// Grace is how long a restart waits after SIGTERM before SIGKILL (default 10s).
	Grace time.Duration
	// Debounce is how long after the first file event the content is compared (default 1s).
	Debounce time.Duration
	// MaxRestarts in any RestartWindow (defaults 5 in 5m); RestartBackoff is the first
	// spacing between restarts inside a window, doubled each time (default 2s).
	MaxRestarts    int
	RestartWindow  time.Duration
	RestartBackoff time.Duration
	// Poll is the backstop re-read of the file for changes fsnotify misses (default 10s).
	Poll time.Duration

	// Reap collects every child, orphans included: set it when running as PID 1 or after
	// BecomeSubreaper.
	Reap bool
	// Signals are forwarded to the command. SIGTERM, SIGINT and SIGQUIT also end
	// supervision: no restart after them, and Run returns when the command exits.
	Signals <-chan os.Signal
	// AllowEnv names variables of the envpolicy denylist (LD_*, PATH…) the env file may
	// set all the same; any other denied name makes the file unusable.
	AllowEnv []string

	// Listeners are sockets the command receives as file descriptors 3, 4, … at every
	// start (uvicorn --fd 3, gunicorn --bind fd://3). They stay open here across restarts,
	// so a connection that arrives while the command restarts waits in the socket's backlog
	// for the new process instead of being refused.
	Listeners []*os.File

	Stdin, Stdout, Stderr *os.File // default: this process's
	Log                   *zap.Logger
}

// Defaults.
const (
	DefaultWaitTimeout    = 60 * time.Second
	DefaultGrace          = 10 * time.Second
	DefaultDebounce       = time.Second
	DefaultMaxRestarts    = 5
	DefaultRestartWindow  = 5 * time.Minute
	DefaultRestartBackoff = 2 * time.Second
	DefaultPoll           = 10 * time.Second
)

func (c *Config) applyDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.WaitTimeout, DefaultWaitTimeout)
	def(&c.Grace, DefaultGrace)
	def(&c.Debounce, DefaultDebounce)
	def(&c.RestartWindow, DefaultRestartWindow)
	def(&c.RestartBackoff, DefaultRestartBackoff)
	def(&c.Poll, DefaultPoll)
	if c.MaxRestarts <= 0 {
		c.MaxRestarts = DefaultMaxRestarts
	}
	if c.Stdin == nil {
		c.Stdin = os.Stdin
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// EnvFileVar is set in the command's environment to the env file's absolute path, so an
// app told of a change by signal can re-read it.
const EnvFileVar = "PATAS_SECRETS_ENV_FILE"

// ErrStart marks a command that could not be started (not found, not executable).
var ErrStart = errors.New("command could not be started")

// envState is one reading of the env file.
type envState struct {
	vars []string // NAME=value
	hash [32]byte
}

func (e *envState) names() []string {
	out := make([]string, len(e.vars))
	for i, kv := range e.vars {
		out[i], _, _ = strings.Cut(kv, "=")
	}
	return out
}

// Bounds of one read of the env file, which sits on a volume another container can write:
// a FIFO or device there is refused, a hung mount abandoned.
const (
	envReadTimeout = 10 * time.Second
	envMaxSize     = 16 << 20
)

func readEnv(path string, allow []string) (*envState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), envReadTimeout)
	defer cancel()
	data, err := saferead.File(ctx, path, envMaxSize)
	if err != nil {
		return nil, err
	}
	vars, err := sinks.ReadEnvFile(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := checkPolicy(vars, allow); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &envState{vars: vars, hash: sha256.Sum256(data)}, nil
}

// ReadEnvFile returns the NAME=value pairs of the env file at path as exec would hand them
// to the command, refusing a variable of the envpolicy denylist not named in allow.
func ReadEnvFile(path string, allow []string) ([]string, error) {
	env, err := readEnv(path, allow)
	if err != nil {
		return nil, err
	}
	return env.vars, nil
}

// ErrDenied marks an env file that sets a variable of the envpolicy denylist.
var ErrDenied = errors.New("variable refused")

// checkPolicy refuses the file when it sets a variable the command must never take from
// the shared volume (LD_PRELOAD, PATH, PYTHONSTARTUP…), so none of its variables is merged.
func checkPolicy(vars []string, allow []string) error {
	for _, kv := range vars {
		name, _, _ := strings.Cut(kv, "=")
		if !envpolicy.Allowed(name, allow) {
			return fmt.Errorf("%w: %s is %s (allow it with --allow-env %s)", ErrDenied, name, envpolicy.Describe, name)
		}
	}
	return nil
}

// Run supervises the command until it exits and returns its exit status (128+signal when
// a signal ended it). Cancelling ctx stops the command gracefully (SIGTERM, Grace,
// SIGKILL). The error is non-nil when the command never ran (no env file, not startable).
func Run(ctx context.Context, cfg Config) (int, error) {
	cfg.applyDefaults()
	if len(cfg.Args) == 0 {
		return 0, errors.New("no command to run")
	}
	path, err := filepath.Abs(cfg.EnvFile)
	if err != nil {
		return 0, err
	}
	s := &sup{cfg: cfg, path: path, log: cfg.Log,
		lim: limiter{max: cfg.MaxRestarts, window: cfg.RestartWindow, backoff: cfg.RestartBackoff}}

	// Catch SIGCHLD before any child exists, so no exit can be missed.
	s.chld = make(chan os.Signal, 1)
	signal.Notify(s.chld, syscall.SIGCHLD)
	defer signal.Stop(s.chld)

	s.watch, err = fsnotify.NewWatcher()
	if err != nil {
		return 0, fmt.Errorf("watching %s: %w", filepath.Dir(path), err)
	}
	defer s.watch.Close()
	s.addWatch()

	env, code, err := s.waitForFile(ctx)
	if env == nil {
		return code, err
	}
	return s.supervise(ctx, env)
}

// sup is the state of one Run; only Run's goroutine touches it.
type sup struct {
	cfg   Config
	path  string
	log   *zap.Logger
	lim   limiter
	chld  chan os.Signal
	watch *fsnotify.Watcher

	child      *child
	current    *envState // what the running command got
	pending    *envState // a confirmed change not yet applied
	restarting bool      // the command was told to stop so that it restarts
	stopping   bool      // supervision ends when the command exits
}

func (s *sup) addWatch() {
	if err := s.watch.Add(filepath.Dir(s.path)); err != nil {
		s.log.Debug("cannot watch the env file's directory yet; polling", zap.String("dir", filepath.Dir(s.path)), zap.Error(err))
	}
}

// waitForFile waits for a readable env file. A terminating signal meanwhile ends the
// wait with 128+signal.
func (s *sup) waitForFile(ctx context.Context) (*envState, int, error) {
	deadline := time.NewTimer(s.cfg.WaitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	waiting := false
	events, errs := s.watch.Events, s.watch.Errors
	for {
		env, err := readEnv(s.path, s.cfg.AllowEnv)
		if err == nil {
			return env, 0, nil
		}
		if errors.Is(err, ErrDenied) {
			// Not a file still being written: the command must not start with it.
			return nil, 1, err
		}
		lastErr = err
		if !waiting {
			waiting = true
			s.log.Info("waiting for the env file", zap.String("path", s.path), zap.Duration("timeout", s.cfg.WaitTimeout))
		}
		select {
		case <-ctx.Done():
			return nil, 1, fmt.Errorf("stopped while waiting for %s", s.path)
		case sig := <-s.cfg.Signals:
			if terminating(sig) {
				return nil, 128 + int(sig.(syscall.Signal)), fmt.Errorf("%v while waiting for %s", sig, s.path)
			}
		case <-deadline.C:
			if errors.Is(lastErr, os.ErrNotExist) {
				return nil, 1, fmt.Errorf("env file %s did not appear within %s", s.path, s.cfg.WaitTimeout)
			}
			return nil, 1, fmt.Errorf("env file not usable after %s: %w", s.cfg.WaitTimeout, lastErr)
		case _, ok := <-events:
			if !ok {
				events = nil
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
			}
		case <-tick.C:
			s.addWatch()
		}
	}
}

func (s *sup) start(env *envState) error {
	ownGroup := !isTerminal(s.cfg.Stdin)
	vars := append(append([]string{}, env.vars...), EnvFileVar+"="+s.path)
	files := append([]*os.File{s.cfg.Stdin, s.cfg.Stdout, s.cfg.Stderr}, s.cfg.Listeners...)
	c, err := startChild(s.cfg.Args, mergeEnv(os.Environ(), vars), files, ownGroup)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	s.child, s.current = c, env
	s.log.Info("command started", zap.String("command", s.cfg.Args[0]), zap.Int("pid", c.pid), zap.Strings("variables", env.names()))
	return nil
}

// mergeEnv returns base with vars added; a variable from the file replaces one of base.
func mergeEnv(base, vars []string) []string {
	set := map[string]bool{}
	for _, kv := range vars {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, vars...)
}

func terminating(sig os.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGQUIT
}

// changedNames lists the variables whose value differs between a and b (names only).
func changedNames(a, b *envState) []string {
	values := func(e *envState) map[string]string {
		m := map[string]string{}
		for _, kv := range e.vars {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	am, bm := values(a), values(b)
	var out []string
	for k, v := range bm {
		if old, ok := am[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range am {
		if _, ok := bm[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
