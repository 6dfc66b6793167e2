package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// restClient makes the one call this backend needs in the REST form of the Secret Manager
// API (GET v1/{name}:access, JSON body): that form needs net/http and credentials only,
// where the library's gRPC client links gRPC, OpenTelemetry, S2A and the enterprise
// certificate proxy, ~5 MB and ~130 package inits paid at every start of every command.
type restClient struct {
	http *http.Client // adds the access token (oauth2.Transport) unless insecure
	base string       // https://HOST:PORT/v1/ (http:// for a loopback test endpoint)
}

// maxBody bounds what is read of a response: payloads are at most 64 KiB, base64 in JSON.
const maxBody = 1 << 20

// accessResponse is AccessSecretVersionResponse in proto3 JSON: bytes in base64, int64 as
// a string (or a number, which proto3 JSON parsers also accept).
type accessResponse struct {
	Name    string `json:"name"`
	Payload struct {
		Data       []byte     `json:"data"`
		DataCrc32C *jsonInt64 `json:"dataCrc32c"`
	} `json:"payload"`
}

type jsonInt64 int64

func (n *jsonInt64) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*n = jsonInt64(v)
	return err
}

// apiError is the service's error body: {"error": {"code": 404, "message": ..., "status":
// "NOT_FOUND"}}. Status is the canonical code's name, Message names resources, never payloads.
type apiError struct {
	HTTP    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (e *apiError) Error() string {
	if e.Status == "" {
		return fmt.Sprintf("HTTP %d: %s", e.HTTP, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Status, e.Message)
}

// access reads one version. Errors: *apiError for an answer of the service, else the
// transport's error (or errToken's wrapping when no access token could be had).
func (c *restClient) access(ctx context.Context, name string) (*accessResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+name+":access", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "patas-secrets")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.HTTP == 0 {
			// Not the service's error body (a proxy's page): the status is all there is; the
			// body is not quoted, it could be anything.
			return nil, &apiError{HTTP: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		}
		e.Error.HTTP = resp.StatusCode
		return nil, &e.Error
	}
	var out accessResponse
	if err := json.Unmarshal(body, &out); err != nil {
		// The decoder's message may quote part of the body: the payload. Say only what failed.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("response is not valid JSON (at byte %d)", syn.Offset)
		}
		return nil, errors.New("response is not an AccessSecretVersionResponse")
	}
	return &out, nil
}

// basePath is the API root on endpoint (host:port).
func basePath(endpoint string, insecure bool) string {
	scheme := "https://"
	if insecure {
		scheme = "http://"
	}
	return scheme + endpoint + "/v1/"
}
