package testenv

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// AWSCall is one HTTP request an AWS SDK client sent.
type AWSCall struct {
	Op            string // the operation: BatchGetSecretValue, GetParameters, AssumeRole…
	AccessKey     string // the access key id the request was signed with
	SecurityToken string // X-Amz-Security-Token, for temporary credentials
}

// AWSCalls is an http.RoundTripper that records every AWS request (retries included, as AWS
// bills them) before passing it on. Give Client() to the SDK.
type AWSCalls struct {
	tr *http.Transport

	mu    sync.Mutex
	calls []AWSCall
}

// NewAWSCalls returns a recorder over a transport of its own; Close its idle connections
// when done (goleak sees them otherwise).
func NewAWSCalls() *AWSCalls {
	return &AWSCalls{tr: http.DefaultTransport.(*http.Transport).Clone()}
}

// Client is an HTTP client that sends through c.
func (c *AWSCalls) Client() *http.Client { return &http.Client{Transport: c} }

// Close closes idle connections.
func (c *AWSCalls) Close() { c.tr.CloseIdleConnections() }

func (c *AWSCalls) RoundTrip(req *http.Request) (*http.Response, error) {
	call := AWSCall{
		Op:            operation(req),
		AccessKey:     accessKey(req.Header.Get("Authorization")),
		SecurityToken: req.Header.Get("X-Amz-Security-Token"),
	}
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
	return c.tr.RoundTrip(req)
}

// Calls returns the requests recorded so far.
func (c *AWSCalls) Calls() []AWSCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]AWSCall(nil), c.calls...)
}

// Count returns how many requests of operation op were sent ("" counts all).
func (c *AWSCalls) Count(op string) int {
	n := 0
	for _, x := range c.Calls() {
		if op == "" || x.Op == op {
			n++
		}
	}
	return n
}

// Ops counts requests by operation.
func (c *AWSCalls) Ops() map[string]int {
	m := map[string]int{}
	for _, x := range c.Calls() {
		m[x.Op]++
	}
	return m
}

// Reset forgets the requests recorded so far.
func (c *AWSCalls) Reset() {
	c.mu.Lock()
	c.calls = nil
	c.mu.Unlock()
}

// operation reads the operation name: the X-Amz-Target header of JSON protocols
// ("secretsmanager.GetSecretValue"), or the Action of query protocols (STS).
func operation(req *http.Request) string {
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndexByte(t, '.')+1:]
	}
	if req.Body == nil || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return req.Method + " " + req.URL.Path
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return "?"
	}
	v, _ := url.ParseQuery(string(b))
	return v.Get("Action")
}

// accessKey extracts the key id from "AWS4-HMAC-SHA256 Credential=AKID/date/region/…".
func accessKey(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}
