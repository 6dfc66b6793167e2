package gcpsm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Metadata is the instance metadata server as GKE Workload Identity presents it to a pod
// (metadata.google.internal, reached through GCE_METADATA_HOST in tests). It follows the
// documented API: every request needs "Metadata-Flavor: Google" (else 403), every response
// carries that header, and
//
//	/computeMetadata/v1/instance/service-accounts/default/token -> {"access_token","expires_in","token_type"}
//	/computeMetadata/v1/instance/service-accounts/default/email -> the service account
//	/computeMetadata/v1/project/project-id                      -> the project id
//
// Other paths are 404, which the client library treats as "not set".
type Metadata struct {
	// Host is host:port, the value for GCE_METADATA_HOST.
	Host string

	mu    sync.Mutex
	token string
	paths []string
}

// StartMetadata serves token as the pod's access token until the test ends. An empty token
// makes the token path answer 403, as for a workload bound to no Google service account.
func StartMetadata(t testing.TB, project, email, token string) *Metadata {
	t.Helper()
	m := &Metadata{token: token}
	values := map[string]string{
		"/computeMetadata/v1/instance/service-accounts/default/email": email,
		"/computeMetadata/v1/project/project-id":                      project,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.paths = append(m.paths, r.URL.Path)
		tok := m.token
		m.mu.Unlock()
		w.Header().Set("Metadata-Flavor", "Google")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
			return
		}
		switch p := strings.TrimSuffix(r.URL.Path, "/"); {
		case p == "/computeMetadata/v1/instance/service-accounts/default/token" && tok == "":
			http.Error(w, "no Google service account is bound to this workload", http.StatusForbidden)
		case p == "/computeMetadata/v1/instance/service-accounts/default/token":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
		case values[p] != "":
			_, _ = w.Write([]byte(values[p]))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	m.Host = strings.TrimPrefix(srv.URL, "http://")
	return m
}

// Paths returns the paths requested so far.
func (m *Metadata) Paths() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.paths...)
}
