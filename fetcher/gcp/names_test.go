package gcp

import (
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

func TestResourceName(t *testing.T) {
	tests := []struct {
		name, path, version, project, location string
		want                                   string // "" = error
		errHas                                 string
	}{
		{name: "short latest", path: "db", project: "p1", want: "projects/p1/secrets/db/versions/latest"},
		{name: "short pinned", path: "db", version: "3", project: "p1", want: "projects/p1/secrets/db/versions/3"},
		{name: "short alias", path: "db", version: "prod", project: "p1", want: "projects/p1/secrets/db/versions/prod"},
		{name: "short regional", path: "db", project: "p1", location: "europe-west1", want: "projects/p1/locations/europe-west1/secrets/db/versions/latest"},
		{name: "short without project", path: "db", errHas: "needs project"},
		{name: "short bad id", path: "db.password", project: "p1", errHas: "letters, digits"},
		{name: "full secret", path: "projects/p2/secrets/db", project: "p1", want: "projects/p2/secrets/db/versions/latest"},
		{name: "full secret pinned by ref", path: "projects/p2/secrets/db", version: "2", want: "projects/p2/secrets/db/versions/2"},
		{name: "full version", path: "projects/p2/secrets/db/versions/4", want: "projects/p2/secrets/db/versions/4"},
		{name: "full version same as ref", path: "projects/p2/secrets/db/versions/4", version: "4", want: "projects/p2/secrets/db/versions/4"},
		{name: "full version conflicts with ref", path: "projects/p2/secrets/db/versions/4", version: "5", errHas: "keep one"},
		{name: "project number", path: "projects/123456/secrets/db", want: "projects/123456/secrets/db/versions/latest"},
		{name: "regional full", path: "projects/p/locations/us-east1/secrets/db", location: "us-east1", want: "projects/p/locations/us-east1/secrets/db/versions/latest"},
		{name: "regional full version", path: "projects/p/locations/us-east1/secrets/db/versions/2", location: "us-east1", want: "projects/p/locations/us-east1/secrets/db/versions/2"},
		{name: "regional name, global backend", path: "projects/p/locations/us-east1/secrets/db", errHas: "needs location: us-east1 on backends.gcp"},
		{name: "regional name, global backend, with version", path: "projects/p/locations/us-east1/secrets/db/versions/1", errHas: "needs location: us-east1 on backends.gcp"},
		{name: "global name, regional backend", path: "projects/p/secrets/db", location: "us-east1", errHas: "global secret"},
		{name: "other location", path: "projects/p/locations/us-west1/secrets/db", location: "us-east1", errHas: "differs from backends.gcp.location (us-east1)"},
		{name: "trailing slash", path: "projects/p/secrets/db/", errHas: "want NAME"},
		{name: "empty project", path: "projects//secrets/db", errHas: "want NAME"},
		{name: "not a secret", path: "projects/p/topics/t", errHas: "want NAME"},
		{name: "extra segments", path: "projects/p/secrets/db/versions/1/x", errHas: "want NAME"},
		{name: "bad version", path: "db", version: "1/2", project: "p", errHas: "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resourceName(fetcher.Ref{Backend: "gcp", Path: tt.path, Version: tt.version}, tt.project, tt.location)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.errHas)
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	for ep, want := range map[string]bool{
		"127.0.0.1:9000": true, "[::1]:9000": true, "localhost:1": true, "127.9.9.9:1": true,
		"10.0.0.1:443": false, "secretmanager.googleapis.com:443": false, "127.0.0.1": false, "": false,
	} {
		if got := isLoopback(ep); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", ep, got, want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{}, "secretmanager.googleapis.com"},
		{Options{Location: "europe-west1"}, "secretmanager.europe-west1.rep.googleapis.com"},
		{Options{Location: "europe-west1", Endpoint: "10.0.0.5:443"}, "10.0.0.5:443"},
		{Options{Endpoint: "private.googleapis.com:443"}, "private.googleapis.com:443"},
	} {
		if got := endpoint(tt.o); got != tt.want {
			t.Errorf("endpoint(%+v) = %q, want %q", tt.o, got, tt.want)
		}
	}
}
