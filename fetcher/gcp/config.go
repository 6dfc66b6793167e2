package gcp

import (
	"context"
	"net"
	"regexp"
	"strings"
	"sync"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
)

// Type registers the gcp backend: `type: gcp` in a backends entry.
var Type = registry.Type{Name: "gcp", New: func() registry.Settings { return &Settings{} }}

// Settings of a gcp backend: Google Secret Manager with application default credentials.
type Settings struct {
	Type string `yaml:"type"`
	// Project is the project of short refs (gcp:NAME); full resource names carry their own.
	Project string `yaml:"project"`
	// Location reads regional secrets through secretmanager.LOCATION.rep.googleapis.com.
	Location string `yaml:"location"`
	// Endpoint (host:port) replaces Google's endpoint: a private endpoint or a test server.
	Endpoint string `yaml:"endpoint"`
	// Insecure talks plaintext without credentials to a loopback endpoint: tests only,
	// refused in production.
	Insecure bool `yaml:"insecure"`
}

// Checked in Validate, not compiled at start-up: every command of every build with GCP would
// pay for them (a `{1,63}` repetition alone compiles to 63 copies of its class, ~80 kB).
var (
	projectRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9.:-]+$`) })        // ids, numbers, legacy "example.com:proj"
	locationRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]+(-[a-z0-9]+)+$`) }) // us-central1, europe-west4
)

// Validate implements registry.Settings.
func (s *Settings) Validate(env registry.Env, p *registry.Problems) {
	if s.Project != "" && (len(s.Project) > 63 || !projectRE().MatchString(s.Project)) {
		p.Add("project", "%q is not a project id or number (e.g. my-project)", s.Project)
	}
	if s.Location != "" && !locationRE().MatchString(s.Location) {
		p.Add("location", "%q is not a location (e.g. europe-west1)", s.Location)
	}
	if s.Endpoint != "" {
		if _, port, err := net.SplitHostPort(s.Endpoint); err != nil || port == "" || strings.Contains(s.Endpoint, "/") {
			p.Add("endpoint", "want host:port (gRPC), e.g. private.googleapis.com:443, got %q", s.Endpoint)
		}
	}
	if s.Insecure {
		host, _, err := net.SplitHostPort(s.Endpoint)
		switch {
		case env.Production:
			p.Add("insecure", "plaintext without credentials is for loopback tests; refused in production")
		case err != nil || !registry.LoopbackHost(host):
			p.Add("insecure", "needs a loopback endpoint (127.0.0.1:PORT); got %q", s.Endpoint)
		}
	}
}

// CheckRef implements registry.Settings with the parse Fetch uses.
func (s *Settings) CheckRef(_ registry.Env, r fetcher.Ref, _ registry.Use) error {
	_, err := resourceName(r, s.Project, s.Location)
	return err
}

// Open implements registry.Settings.
func (s *Settings) Open(ctx context.Context, env registry.Env) (fetcher.Backend, error) {
	return New(ctx, Options{Project: s.Project, Location: s.Location, Endpoint: s.Endpoint, Insecure: s.Insecure}, env.Log)
}
