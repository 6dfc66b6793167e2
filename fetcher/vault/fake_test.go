package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fakeVault is a vaultAPI whose answers the test scripts per path. It records each call.
type fakeVault struct {
	mu       sync.Mutex
	handlers map[string]func(call fakeCall) (*api.Secret, error)
	calls    []fakeCall
}

type fakeCall struct {
	ctx             context.Context
	op, token, path string
	query           url.Values
	data            map[string]any
}

func newFake() *fakeVault {
	return &fakeVault{handlers: map[string]func(fakeCall) (*api.Secret, error){}}
}

func (f *fakeVault) on(path string, h func(c fakeCall) (*api.Secret, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[path] = h
}

func (f *fakeVault) read(ctx context.Context, token, path string, query url.Values) (*api.Secret, error) {
	return f.call(fakeCall{ctx: ctx, op: "read", token: token, path: path, query: query})
}

func (f *fakeVault) write(ctx context.Context, token, path string, data map[string]any) (*api.Secret, error) {
	return f.call(fakeCall{ctx: ctx, op: "write", token: token, path: path, data: data})
}

func (f *fakeVault) call(c fakeCall) (*api.Secret, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	h := f.handlers[c.path]
	f.mu.Unlock()
	if h == nil {
		return nil, status(http.StatusNotFound, "")
	}
	return h(c)
}

func (f *fakeVault) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.path == path {
			n++
		}
	}
	return n
}

// Canned answers.

func denied() error {
	return classify(&api.ResponseError{StatusCode: 403, Errors: []string{"permission denied"}})
}

func status(code int, msg string) error {
	return classify(&api.ResponseError{StatusCode: code, Errors: []string{msg}})
}

func kvV2Mount(path string) func(fakeCall) (*api.Secret, error) {
	return func(fakeCall) (*api.Secret, error) {
		return &api.Secret{Data: map[string]any{"path": path, "type": "kv", "options": map[string]any{"version": "2"}}}, nil
	}
}

func engineMount(path, typ string) func(fakeCall) (*api.Secret, error) {
	return func(fakeCall) (*api.Secret, error) {
		return &api.Secret{Data: map[string]any{"path": path, "type": typ}}, nil
	}
}

func kvV2Data(version int, data map[string]any) func(fakeCall) (*api.Secret, error) {
	return func(fakeCall) (*api.Secret, error) {
		return &api.Secret{Data: map[string]any{
			"data": data,
			"metadata": map[string]any{
				"version":      json.Number(fmt.Sprint(version)),
				"created_time": "2026-01-02T03:04:05.123456Z",
			},
		}}, nil
	}
}

func loginAnswer(token string, ttl int, renewable bool) *api.Secret {
	return &api.Secret{Auth: &api.SecretAuth{ClientToken: token, LeaseDuration: ttl, Renewable: renewable}}
}

// lookupOK accepts only the tokens in valid.
func lookupOK(valid ...string) func(fakeCall) (*api.Secret, error) {
	return func(c fakeCall) (*api.Secret, error) {
		for _, v := range valid {
			if c.token == v {
				return &api.Secret{Data: map[string]any{"ttl": json.Number("0"), "renewable": false}}, nil
			}
		}
		return nil, denied()
	}
}

// fakeClient builds a Client on f with a login that counts its calls, a fixed jitter and
// an observed logger at debug level.
func fakeClient(t *testing.T, f *fakeVault, login func() (loginRequest, error)) (*Client, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	a := &authenticator{login: login}
	if login == nil {
		a.envToken = "root-token"
	}
	c := newClient(f, a, zap.New(core))
	t.Cleanup(func() { c.Close() })
	return c, logs
}

func appRoleLogin() (loginRequest, error) {
	return loginRequest{path: "auth/approle/login", data: map[string]any{"role_id": "r", "secret_id": "s"}}, nil
}

// clock is a settable now for lease arithmetic.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withClock(c *Client) *clock {
	k := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.now = k.now
	c.auth.now = k.now
	c.rnd = func() float64 { return 0.5 } // renew at 60% of a TTL
	c.auth.rnd = c.rnd
	return k
}

func isNetErr(err error) bool {
	var se *statusError
	return err != nil && !errors.As(err, &se)
}
