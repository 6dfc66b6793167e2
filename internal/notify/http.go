package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/patas/patas-secrets/internal/config"
)

// httpTarget sends a request to a URL; a status outside 2xx is a failure.
type httpTarget struct {
	url    *url.URL
	method string
	client *http.Client
}

func newHTTPTarget(h *config.NotifyHTTP) (*httpTarget, error) {
	u, err := url.Parse(h.URL)
	if err != nil {
		return nil, fmt.Errorf("notify.http.url: %w", err)
	}
	method := strings.ToUpper(h.Method)
	if method == "" {
		method = http.MethodPost
	}
	timeout := time.Duration(h.Timeout)
	if timeout == 0 {
		timeout = config.DefaultNotifyHTTPTimeout
	}
	// Notifications are minutes apart: no idle connection is kept between them.
	tr := &http.Transport{DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment}
	return &httpTarget{url: u, method: method, client: &http.Client{Timeout: timeout, Transport: tr}}, nil
}

func (t *httpTarget) String() string { return t.method + " " + t.url.Redacted() }

const httpBody = `{"event":"secrets-changed"}`

func (t *httpTarget) notify(ctx context.Context) error {
	var body io.Reader
	if t.method != http.MethodGet {
		body = strings.NewReader(httpBody)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, t.url.String(), body)
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "patas-secrets")
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: status %s", t, resp.Status)
	}
	return nil
}
