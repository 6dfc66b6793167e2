package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ResultOK},
		{fmt.Errorf("vault: %w", fetcher.ErrPermission), ResultAuth},
		{fmt.Errorf("x: %w", fetcher.ErrNotFound), ResultNotFound},
		{fmt.Errorf("x: %w", fetcher.ErrThrottled), ResultThrottled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), ResultTimeout},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, ResultNetwork},
		{errors.New("something else"), ResultError},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestProbeAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9102": "127.0.0.1:9102", ":9102": "127.0.0.1:9102", "0.0.0.0:9102": "127.0.0.1:9102",
		"[::]:9102": "127.0.0.1:9102", "10.1.2.3:80": "10.1.2.3:80",
	} {
		if got, err := ProbeAddr(in); err != nil || got != want {
			t.Errorf("ProbeAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestHandler(t *testing.T) {
	ready := false
	m := NewMetrics("v1", func() time.Duration { return 3 * time.Second })
	srv := httptest.NewServer(Handler(m, func() (bool, string) { return ready, "outputs not written yet" }))
	defer srv.Close()
	get := func(p string) (int, string) {
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, _ := get("/healthz"); c != 200 {
		t.Errorf("/healthz: got %d", c)
	}
	if c, _ := get("/readyz"); c != 503 {
		t.Errorf("/readyz not ready: got %d, want 503", c)
	}
	ready = true
	if c, _ := get("/readyz"); c != 200 {
		t.Errorf("/readyz ready: got %d, want 200", c)
	}
	if c, body := get("/metrics"); c != 200 || !strings.Contains(body, "patas_secrets_staleness_seconds 3") {
		t.Errorf("/metrics: got %d, want the staleness gauge", c)
	}
}
