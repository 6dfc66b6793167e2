package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/tmpl"
)

// GCPBackend reads Google Secret Manager with application default credentials.
type GCPBackend struct {
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

var (
	gcpProjectRE  = regexp.MustCompile(`^[a-z0-9.:-]{1,63}$`)   // ids, numbers, legacy "example.com:proj"
	gcpLocationRE = regexp.MustCompile(`^[a-z]+(-[a-z0-9]+)+$`) // us-central1, europe-west4
)

func (b *GCPBackend) validate(path string, c *Config, p *Problems) {
	if b.Project != "" && !gcpProjectRE.MatchString(b.Project) {
		p.Add(path+".project", "%q is not a project id or number (e.g. my-project)", b.Project)
	}
	if b.Location != "" && !gcpLocationRE.MatchString(b.Location) {
		p.Add(path+".location", "%q is not a location (e.g. europe-west1)", b.Location)
	}
	if b.Endpoint != "" {
		if _, port, err := net.SplitHostPort(b.Endpoint); err != nil || port == "" || strings.Contains(b.Endpoint, "/") {
			p.Add(path+".endpoint", "want host:port (gRPC), e.g. private.googleapis.com:443, got %q", b.Endpoint)
		}
	}
	if b.Insecure {
		switch {
		case c.IsProduction():
			p.Add(path+".insecure", "plaintext without credentials is for loopback tests; refused in production")
		case !loopback(b.Endpoint):
			p.Add(path+".insecure", "needs a loopback endpoint (127.0.0.1:PORT); got %q", b.Endpoint)
		}
	}
	b.validateRefs(strings.TrimPrefix(path, "backends."), path, c, p)
}

// validateRefs checks what can be checked of this backend's refs without reaching it: short
// names need a project, and a regional full name needs this backend's location.
func (b *GCPBackend) validateRefs(name, path string, c *Config, p *Problems) {
	for i, s := range c.Secrets {
		var refs []fetcher.Ref
		if r, err := fetcher.ParseRef(s.Ref); err == nil && s.Ref != "" {
			refs = append(refs, r)
		}
		if s.Template != "" {
			if t, err := tmpl.Parse(s.Env, s.Template); err == nil {
				refs = append(refs, t.Refs()...)
			}
		}
		for _, r := range refs {
			if r.Backend != name {
				continue
			}
			where := fmt.Sprintf("secrets[%d].ref", i)
			if s.Template != "" {
				where = fmt.Sprintf("secrets[%d].template", i)
			}
			if msg := b.refProblem(r); msg != "" {
				p.Add(where, "%s: %s", r, msg)
			}
		}
	}
}

func (b *GCPBackend) refProblem(r fetcher.Ref) string {
	if !strings.Contains(r.Path, "/") {
		if b.Project == "" {
			return "the short form needs project on backends." + r.Backend + " (or write projects/P/secrets/NAME)"
		}
		return ""
	}
	seg := strings.Split(r.Path, "/")
	loc := ""
	if len(seg) >= 4 && seg[0] == "projects" && seg[2] == "locations" {
		loc = seg[3]
	}
	switch {
	case loc == b.Location:
		return ""
	case b.Location == "":
		return fmt.Sprintf("a regional secret in %s needs location: %s on backends.%s", loc, loc, r.Backend)
	case loc == "":
		return fmt.Sprintf("a global secret cannot be read through backends.%s, which reads location %s", r.Backend, b.Location)
	}
	return fmt.Sprintf("location %s differs from backends.%s.location (%s)", loc, r.Backend, b.Location)
}

// loopback reports whether endpoint (host:port) names this machine.
func loopback(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	return err == nil && isLoopbackHost(host)
}
