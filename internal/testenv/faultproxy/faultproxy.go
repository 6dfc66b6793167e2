// Package faultproxy is a loopback proxy that injects faults between a client under test
// and a real server (Vault, moto, the gcpsm gRPC server): latency, a hang, a connection
// reset, a 5xx answer, a 429 with Retry-After, a truncated body. The fault is switched at
// run time with Set and applies to connections already open as well as new ones.
//
// HTTP proxies understand requests (every fault applies per request); TCP proxies forward
// bytes (for gRPC: latency, hang and reset apply per chunk and per connection).
package faultproxy

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind is a type of fault.
type Kind int

// The faults.
const (
	None     Kind = iota
	Latency       // delay every request (HTTP) or every chunk (TCP) by Fault.Delay
	Hang          // take the request (or bytes) and answer nothing while the fault lasts
	Reset         // end every connection with a TCP RST, open ones included
	Status        // HTTP only: answer Fault.Code (default 503) without reaching the server
	Throttle      // HTTP only: answer 429 with Retry-After: Fault.RetryAfter (default 1s)
	Truncate      // HTTP only: forward, then send half the body under the full Content-Length and close
)

func (k Kind) String() string {
	return [...]string{"none", "latency", "hang", "reset", "status", "throttle", "truncate"}[k]
}

// Fault is what the proxy does to traffic.
type Fault struct {
	Kind       Kind
	Delay      time.Duration // Latency
	Code       int           // Status
	RetryAfter time.Duration // Throttle
}

func (f Fault) String() string {
	switch f.Kind {
	case Latency:
		return fmt.Sprintf("latency %s", f.Delay)
	case Status:
		return fmt.Sprintf("status %d", f.code())
	case Throttle:
		return fmt.Sprintf("429 retry-after %s", f.retryAfter())
	}
	return f.Kind.String()
}

func (f Fault) code() int {
	if f.Code == 0 {
		return 503
	}
	return f.Code
}

func (f Fault) retryAfter() time.Duration {
	if f.RetryAfter <= 0 {
		return time.Second
	}
	return f.RetryAfter
}

// Proxy is a running proxy. Its methods are safe for concurrent use.
type Proxy struct {
	// Addr is the proxy's host:port on 127.0.0.1; URL is http://Addr.
	Addr, URL string
	// Target is the host:port traffic is forwarded to.
	Target string

	mu      sync.Mutex
	fault   Fault
	changed chan struct{} // closed and replaced on every Set
	closing chan struct{} // closed when the proxy stops
	seen    int           // requests (HTTP) or connections (TCP)
	hit     int           // of which a fault was applied to
	conns   map[net.Conn]struct{}
}

func newProxy(target string) *Proxy {
	return &Proxy{
		Target:  strings.TrimPrefix(strings.TrimPrefix(target, "http://"), "https://"),
		changed: make(chan struct{}),
		closing: make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	return l
}

// Set switches the fault; None ends it. A Reset also ends every open connection now.
func (p *Proxy) Set(f Fault) {
	p.mu.Lock()
	p.fault = f
	close(p.changed)
	p.changed = make(chan struct{})
	var open []net.Conn
	if f.Kind == Reset {
		for c := range p.conns {
			open = append(open, c)
		}
	}
	p.mu.Unlock()
	for _, c := range open {
		resetConn(c)
	}
}

// Clear ends the fault.
func (p *Proxy) Clear() { p.Set(Fault{}) }

// Fault returns the current fault.
func (p *Proxy) Fault() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

// Seen returns how many requests (HTTP) or connections (TCP) arrived.
func (p *Proxy) Seen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}

// Hit returns how many of them met a fault (TCP: connections and chunks).
func (p *Proxy) Hit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hit
}

// arrive counts one request or connection and returns the fault in force and a channel
// closed when it changes.
func (p *Proxy) arrive() (Fault, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	if p.fault.Kind != None {
		p.hit++
	}
	return p.fault, p.changed
}

func (p *Proxy) current() (Fault, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault, p.changed
}

// track remembers an open connection so that a Reset reaches it; it returns false (and
// resets c) when the proxy is stopping.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closing:
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// stop closes every tracked connection and wakes every waiter.
func (p *Proxy) stop() {
	p.mu.Lock()
	close(p.closing)
	open := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		open = append(open, c)
	}
	p.mu.Unlock()
	for _, c := range open {
		_ = c.Close()
	}
}

// wait blocks for d, or until the fault changes, the proxy stops or done closes; it
// reports whether the full d passed.
func (p *Proxy) wait(d time.Duration, changed <-chan struct{}, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-changed:
	case <-p.closing:
	case <-done:
	}
	return false
}

// hang blocks until the fault is no longer a hang, the proxy stops or done closes; it
// reports whether the hang ended because the fault did.
func (p *Proxy) hang(done <-chan struct{}) bool {
	for {
		f, changed := p.current()
		if f.Kind != Hang {
			return true
		}
		select {
		case <-changed:
		case <-p.closing:
			return false
		case <-done:
			return false
		}
	}
}

// resetConn closes c with a TCP RST (SO_LINGER 0) instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
