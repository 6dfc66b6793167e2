package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/patas/patas-secrets/fetcher"
)

// vaultAPI is the part of Vault this package calls: a read and a write of one path with
// the token given per request (so a re-login never races a request in flight). Every
// endpoint used (KV, sys/internal/ui/mounts, logins, token and lease renewal) is one of
// the two. Unit tests replace it with a fake.
type vaultAPI interface {
	// read GETs path. A 404 without data is an error wrapping fetcher.ErrNotFound; a 404
	// that carries data (KV v2 answers so for a deleted version) is returned as a secret.
	read(ctx context.Context, token, path string, query url.Values) (*api.Secret, error)
	// write PUTs data to path; token is "" for login endpoints.
	write(ctx context.Context, token, path string, data map[string]any) (*api.Secret, error)
}

// httpAPI is vaultAPI over the official client, which brings the standard VAULT_*
// settings, TLS, retries with backoff on 5xx and connection errors, and namespaces.
// It holds the two client methods it calls as func values, not the *api.Client: text/template
// (internal/tmpl) looks methods up by name, so the linker keeps every exported method of a
// type that can reach an interface; a stored *api.Client kept its ~500 methods (0.6 MB).
type httpAPI struct {
	newRequest func(method, path string) *api.Request
	raw        func(ctx context.Context, r *api.Request) (*api.Response, error)
}

func newHTTPAPI(c *api.Client) httpAPI {
	return httpAPI{newRequest: c.NewRequest, raw: c.RawRequestWithContext}
}

func (h httpAPI) read(ctx context.Context, token, path string, query url.Values) (*api.Secret, error) {
	return h.do(ctx, http.MethodGet, token, path, query, nil)
}

func (h httpAPI) write(ctx context.Context, token, path string, data map[string]any) (*api.Secret, error) {
	return h.do(ctx, http.MethodPut, token, path, nil, data)
}

func (h httpAPI) do(ctx context.Context, method, token, path string, query url.Values, body map[string]any) (*api.Secret, error) {
	r := h.newRequest(method, "/v1/"+path)
	r.ClientToken = token
	if query != nil {
		r.Params = query
	}
	if body != nil {
		if err := r.SetJSONBody(body); err != nil {
			return nil, err
		}
	}
	resp, err := h.raw(ctx, r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound && resp != nil && method == http.MethodGet {
			if s, perr := api.ParseSecret(resp.Body); perr == nil && s != nil && len(s.Data) > 0 {
				return s, nil
			}
		}
		return nil, classify(err)
	}
	s, err := api.ParseSecret(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return s, nil
}

// statusError is Vault's answer with an error status, without the request URL and in one
// line. It wraps fetcher.ErrPermission for 401/403, fetcher.ErrNotFound for 404 and
// fetcher.ErrThrottled for 429.
type statusError struct {
	status int
	msg    string
	kind   error
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("vault answered %d %s", e.status, http.StatusText(e.status))
	}
	return fmt.Sprintf("vault answered %d: %s", e.status, e.msg)
}

func (e *statusError) Unwrap() error { return e.kind }

// classify turns the client's errors into statusError where Vault answered; network
// errors pass through unchanged (they are retried by the engine, not reported as auth).
func classify(err error) error {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	e := &statusError{status: re.StatusCode, msg: errorText(re)}
	switch re.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		e.kind = fetcher.ErrPermission
	case http.StatusNotFound:
		e.kind = fetcher.ErrNotFound
	case http.StatusTooManyRequests:
		// A rate limit quota; the client has already retried it (VAULT_MAX_RETRIES).
		e.kind = fetcher.ErrThrottled
	}
	return e
}

// errorText joins Vault's error strings into one short line. A raw (non-JSON) body, as a
// proxy may send, is cut short.
func errorText(re *api.ResponseError) string {
	var parts []string
	for _, m := range re.Errors {
		m = strings.Join(strings.Fields(m), " ")
		if m != "" {
			parts = append(parts, m)
		}
	}
	s := strings.Join(parts, "; ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// isStatus reports whether err is Vault answering with one of codes.
func isStatus(err error, codes ...int) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.status == c {
			return true
		}
	}
	return false
}
