package faultproxy

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// TCP starts a byte-forwarding proxy in front of target (host:port), for protocols the
// proxy does not parse (gRPC over HTTP/2). Latency delays every chunk, Hang holds every
// chunk (and new connections) while it lasts, Reset ends every connection with a RST. The
// HTTP-only faults forward unchanged. Stopped when the test ends.
func TCP(t testing.TB, target string) *Proxy {
	t.Helper()
	p := newProxy(target)
	l := listen(t)
	p.Addr = l.Addr().String()
	p.URL = "http://" + p.Addr
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serveTCP(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		p.stop()
		wg.Wait()
	})
	return p
}

func (p *Proxy) serveTCP(c net.Conn) {
	if !p.track(c) {
		_ = c.Close()
		return
	}
	defer p.untrack(c)
	defer c.Close()
	f, _ := p.arrive()
	switch f.Kind {
	case Reset:
		resetConn(c)
		return
	case Hang:
		if !p.hang(nil) {
			return
		}
	}
	up, err := net.DialTimeout("tcp", p.Target, 5*time.Second)
	if err != nil {
		resetConn(c)
		return
	}
	if !p.track(up) {
		_ = up.Close()
		return
	}
	defer p.untrack(up)
	defer up.Close()
	done := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(done); _ = c.Close(); _ = up.Close() }) }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(up, c, done); end() }()
	go func() { defer wg.Done(); p.pump(c, up, done); end() }()
	wg.Wait()
}

// pump copies src to dst chunk by chunk, applying the fault in force to each chunk.
func (p *Proxy) pump(dst, src net.Conn, done <-chan struct{}) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate(done) {
				resetConn(src)
				resetConn(dst)
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

// gate applies the current fault to one chunk: it waits out latency or a hang; it
// returns false when the connection must end (a reset, the proxy stopping).
func (p *Proxy) gate(done <-chan struct{}) bool {
	var counted *Fault // the fault this chunk was last counted under
	for {
		f, changed := p.current()
		if f.Kind == Reset || f.Kind == Latency || f.Kind == Hang {
			// Count the chunk once per fault it meets: one held by latency may meet
			// the hang that follows.
			if counted == nil || *counted != f {
				counted = &f
				p.mu.Lock()
				p.hit++
				p.mu.Unlock()
			}
		}
		switch f.Kind {
		case Reset:
			return false
		case Latency:
			if p.wait(f.Delay, changed, done) {
				return true
			}
		case Hang:
			if !p.hang(done) {
				return false
			}
		default:
			return true
		}
		select {
		case <-p.closing:
			return false
		case <-done:
			return false
		default:
		}
	}
}
