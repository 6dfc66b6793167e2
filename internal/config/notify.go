package config

import (
	"fmt"
	"github.com/patas/patas-secrets/sinks"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"time"
)

// NotifyConfig is the notify: section: how run tells the application that its outputs
// changed. Every target that is set is notified, after every output has been written.
//
//	notify:
//	  signal:  {pidfile: /run/patas/app.pid, signal: SIGHUP}   # or {process: uvicorn}
//	  command: {args: [/usr/local/bin/reload-patas], timeout: 30s}
//	  http:    {url: http://127.0.0.1:8000/admin/reload, method: POST, timeout: 5s}
//	  debounce: 2s     # wait this long after a change so a burst makes one notification
//	  jitter: 2s       # plus a random 0..jitter, so replicas do not all reload at once
//	  retries: 5       # a failed target is retried this many times, with backoff
type NotifyConfig struct {
	Signal   *NotifySignal  `yaml:"signal"`
	Command  *NotifyCommand `yaml:"command"`
	HTTP     *NotifyHTTP    `yaml:"http"`
	Debounce Duration       `yaml:"debounce"`
	Jitter   *Duration      `yaml:"jitter"`
	Retries  *int           `yaml:"retries"`
}

// NotifySignal sends a signal to a process found by pidfile or, in a shared process
// namespace, by name.
type NotifySignal struct {
	Pidfile string `yaml:"pidfile"`
	Process string `yaml:"process"`
	Signal  string `yaml:"signal"` // default SIGHUP
}

// NotifyCommand runs a program directly (no shell unless args name one).
type NotifyCommand struct {
	Args    []string `yaml:"args"`
	Timeout Duration `yaml:"timeout"` // default 30s
	// Env is all the program gets beside PATH (consul-template's env {pristine = true}):
	// NAME passes the sidecar's own NAME through when set, NAME=value sets a literal. The
	// sidecar's credentials (VAULT_TOKEN, AWS keys…) never reach it unless listed here.
	Env []string `yaml:"env"`
}

// NotifyHTTP sends a request to a URL; any status outside 2xx is a failure.
type NotifyHTTP struct {
	URL     string   `yaml:"url"`
	Method  string   `yaml:"method"`  // default POST
	Timeout Duration `yaml:"timeout"` // default 5s
}

// Notify defaults, applied by the notify package when a field is absent.
const (
	DefaultNotifyDebounce       = 2 * time.Second
	DefaultNotifyRetries        = 5
	DefaultNotifyCommandTimeout = 30 * time.Second
	DefaultNotifyHTTPTimeout    = 5 * time.Second
)

// DebounceOrDefault is the debounce, 2s when absent.
func (n *NotifyConfig) DebounceOrDefault() time.Duration {
	if n.Debounce == 0 {
		return DefaultNotifyDebounce
	}
	return time.Duration(n.Debounce)
}

// JitterOrDefault is the jitter; when absent it equals the debounce.
func (n *NotifyConfig) JitterOrDefault() time.Duration {
	if n.Jitter == nil {
		return n.DebounceOrDefault()
	}
	return time.Duration(*n.Jitter)
}

// RetriesOrDefault is the number of retries of a failed target, 5 when absent.
func (n *NotifyConfig) RetriesOrDefault() int {
	if n.Retries == nil {
		return DefaultNotifyRetries
	}
	return *n.Retries
}

// Validate checks the notify section on its own (path is where it sits, "notify").
func (n *NotifyConfig) Validate(path string) Problems {
	var p Problems
	n.validate(path, nil, &p)
	return p
}

func (n *NotifyConfig) validate(path string, _ *Config, p *Problems) {
	if n.Signal == nil && n.Command == nil && n.HTTP == nil {
		p.Add(path, "needs at least one of signal, command or http")
	}
	if n.Debounce < 0 {
		p.Add(path+".debounce", "must not be negative")
	}
	if n.Jitter != nil && *n.Jitter < 0 {
		p.Add(path+".jitter", "must not be negative")
	}
	if n.Retries != nil && (*n.Retries < 0 || *n.Retries > 100) {
		p.Add(path+".retries", "must be between 0 and 100, got %d", *n.Retries)
	}
	if s := n.Signal; s != nil {
		sp := path + ".signal"
		switch {
		case s.Pidfile == "" && s.Process == "":
			p.Add(sp, "needs pidfile (the app's pid file) or process (its name, in a shared process namespace)")
		case s.Pidfile != "" && s.Process != "":
			p.Add(sp, "has both pidfile and process; keep one")
		}
		if s.Process != "" && strings.Contains(s.Process, "/") {
			p.Add(sp+".process", "a process name, not a path: %q", s.Process)
		}
		if s.Signal != "" {
			if _, err := ParseSignal(s.Signal); err != nil {
				p.Add(sp+".signal", "%v", err)
			}
		}
	}
	if c := n.Command; c != nil {
		if len(c.Args) == 0 || c.Args[0] == "" {
			p.Add(path+".command.args", "required: the program and its arguments, e.g. [/usr/local/bin/reload]")
		}
		if c.Timeout < 0 {
			p.Add(path+".command.timeout", "must not be negative")
		}
		for i, kv := range c.Env {
			if name, _, _ := strings.Cut(kv, "="); !sinks.ValidName(name) {
				p.Add(fmt.Sprintf("%s.command.env[%d]", path, i), "want NAME (passed through) or NAME=value, got a name %q", name)
			}
		}
	}
	if h := n.HTTP; h != nil {
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			p.Add(path+".http.url", "required, e.g. http://127.0.0.1:8000/admin/reload")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			p.Add(path+".http.url", "want an http:// or https:// URL")
		case u.User != nil:
			p.Add(path+".http.url", "must not carry credentials: the config holds no secret")
		}
		switch strings.ToUpper(h.Method) {
		case "", "POST", "PUT", "GET":
		default:
			p.Add(path+".http.method", "want POST, PUT or GET, got %q", h.Method)
		}
		if h.Timeout < 0 {
			p.Add(path+".http.timeout", "must not be negative")
		}
	}
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "TERM": syscall.SIGTERM,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "WINCH": syscall.SIGWINCH, "KILL": syscall.SIGKILL,
	"ALRM": syscall.SIGALRM, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP,
}

// ParseSignal reads a signal name: SIGHUP, HUP or hup.
func ParseSignal(name string) (syscall.Signal, error) {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "SIG")
	if s, ok := signalNames[n]; ok {
		return s, nil
	}
	known := make([]string, 0, len(signalNames))
	for k := range signalNames {
		known = append(known, "SIG"+k)
	}
	sort.Strings(known)
	return 0, fmt.Errorf("unknown signal %q (one of: %s)", name, strings.Join(known, ", "))
}

// SignalName is the SIG name of s (SIGHUP), or its number when it has none here.
func SignalName(s syscall.Signal) string {
	for k, v := range signalNames {
		if v == s {
			return "SIG" + k
		}
	}
	return fmt.Sprintf("signal %d", int(s))
}
