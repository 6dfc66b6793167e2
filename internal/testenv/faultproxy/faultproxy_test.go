package faultproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.Host+strings.Repeat(".", 100))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, url string, timeout time.Duration) (*http.Response, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestHTTPFaults(t *testing.T) {
	up := upstream(t)
	p := HTTP(t, up.URL)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	resp, body, err := get(t, c, p.URL, 5*time.Second)
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from "+p.Addr) {
		t.Fatalf("no fault: got %v %q, want 200 with the proxy's Host kept", err, body)
	}

	p.Set(Fault{Kind: Status, Code: 502})
	if resp, _, err := get(t, c, p.URL, 5*time.Second); err != nil || resp.StatusCode != 502 {
		t.Errorf("status: got %v %v, want 502", resp, err)
	}
	p.Set(Fault{Kind: Throttle, RetryAfter: 3 * time.Second})
	if resp, _, err := get(t, c, p.URL, 5*time.Second); err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("throttle: got %v %v, want 429 with Retry-After: 3", resp, err)
	}
	p.Set(Fault{Kind: Truncate})
	if _, _, err := get(t, c, p.URL, 5*time.Second); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncate: got %v, want an unexpected EOF", err)
	}
	p.Set(Fault{Kind: Reset})
	if _, _, err := get(t, c, p.URL, 5*time.Second); err == nil || !strings.Contains(err.Error(), "reset") {
		t.Errorf("reset: got %v, want connection reset", err)
	}
	p.Set(Fault{Kind: Hang})
	start := time.Now()
	if _, _, err := get(t, c, p.URL, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: got %v, want the client's deadline", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("hang answered after %s", d)
	}
	p.Set(Fault{Kind: Latency, Delay: 200 * time.Millisecond})
	start = time.Now()
	if resp, _, err := get(t, c, p.URL, 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Errorf("latency: got %v %v, want 200", resp, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("latency: answered after %s, want at least 200ms", d)
	}
	p.Clear()
	if resp, _, err := get(t, c, p.URL, 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Errorf("after the fault: got %v %v, want 200", resp, err)
	}
	if p.Hit() != 6 || p.Seen() != 8 {
		t.Errorf("got %d faulted of %d requests, want 6 of 8", p.Hit(), p.Seen())
	}
}

// A hang released while a request waits lets it through.
func TestHTTPHangEnds(t *testing.T) {
	p := HTTP(t, upstream(t).URL)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	p.Set(Fault{Kind: Hang})
	go func() {
		time.Sleep(100 * time.Millisecond)
		p.Clear()
	}()
	if resp, _, err := get(t, &http.Client{Transport: tr}, p.URL, 10*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v %v, want 200 once the hang ends", resp, err)
	}
}

func TestTCPFaults(t *testing.T) {
	// An echo server: what goes in comes back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	p := TCP(t, l.Addr().String())
	t.Cleanup(func() { l.Close(); <-done })

	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	echo := func(msg string, limit time.Duration) (string, error) {
		_ = c.SetDeadline(time.Now().Add(limit))
		if _, err := io.WriteString(c, msg+"\n"); err != nil {
			return "", err
		}
		return r.ReadString('\n')
	}
	if got, err := echo("one", 5*time.Second); err != nil || got != "one\n" {
		t.Fatalf("got %q %v, want the echo", got, err)
	}
	p.Set(Fault{Kind: Hang})
	if _, err := echo("two", 200*time.Millisecond); err == nil {
		t.Errorf("hang: got an answer")
	}
	p.Clear() // the held chunk goes through now
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Errorf("after the hang: got %q %v, want the held echo", got, err)
	}
	p.Set(Fault{Kind: Reset})
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Errorf("reset: the open connection survived")
	}
	if c2, err := net.Dial("tcp", p.Addr); err == nil {
		_ = c2.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Errorf("reset: a new connection got data")
		}
		c2.Close()
	}
}
