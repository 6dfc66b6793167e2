package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// HTTP starts a proxy in front of the HTTP server at target ("http://127.0.0.1:PORT" or
// "127.0.0.1:PORT"), stopped when the test ends. Requests keep their Host header, so
// signatures over it (AWS SigV4) still hold.
func HTTP(t testing.TB, target string) *Proxy {
	t.Helper()
	p := newProxy(target)
	l := listen(t)
	p.Addr = l.Addr().String()
	p.URL = "http://" + p.Addr
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}
	quiet := log.New(io.Discard, "", 0)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: p.Target})
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
		ErrorLog:  quiet,
	}
	srv := &http.Server{
		Handler:  &httpHandler{p: p, forward: rp, tr: tr},
		ErrorLog: quiet,
		ConnState: func(c net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				if !p.track(c) {
					_ = c.Close()
				}
			case http.StateHijacked, http.StateClosed:
				p.untrack(c)
			}
		},
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		p.stop()
		_ = srv.Close()
		wg.Wait()
		tr.CloseIdleConnections()
	})
	return p
}

type httpHandler struct {
	p       *Proxy
	forward http.Handler
	tr      *http.Transport
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, changed := h.p.arrive()
	switch f.Kind {
	case Latency:
		if !h.p.wait(f.Delay, changed, r.Context().Done()) {
			if r.Context().Err() != nil {
				return // the client gave up
			}
		}
	case Hang:
		if !h.p.hang(r.Context().Done()) {
			return
		}
	case Reset:
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			resetConn(c)
		}
		return
	case Status:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.code())
		fmt.Fprintf(w, `{"errors":["faultproxy: injected %d"],"message":"injected fault"}`, f.code())
		return
	case Throttle:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter().Seconds()+0.5)))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"__type":"ThrottlingException","message":"Rate exceeded","errors":["rate limit quota exceeded"]}`)
		return
	case Truncate:
		h.truncate(w, r)
		return
	}
	h.forward.ServeHTTP(w, r)
}

// truncate forwards r, then answers with the real status and headers, a Content-Length of
// the whole body and only its first half, and closes the connection.
func (h *httpHandler) truncate(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host = "http", h.p.Target
	out.RequestURI = ""
	resp, err := h.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	announced := len(body)
	if announced < 2 {
		announced += 16
	}
	writeHead(rw.Writer, resp, announced)
	_, _ = rw.Write(body[:len(body)/2])
	_ = rw.Flush()
}

func writeHead(w *bufio.Writer, resp *http.Response, length int) {
	fmt.Fprintf(w, "HTTP/1.1 %s\r\n", resp.Status)
	for k, vs := range resp.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(w, "Content-Length: %d\r\nConnection: close\r\n\r\n", length)
}
