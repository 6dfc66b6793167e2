package file

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
)

// Type registers the file backend: `type: file` in a backends entry.
var Type = registry.Type{Name: "file", New: func() registry.Settings { return &Settings{} }}

// Settings of a file backend: secrets are files in Dir (Docker Swarm's /run/secrets, a
// Kubernetes secret volume, or a local directory for development).
type Settings struct {
	Type string `yaml:"type"`
	// Dir holds the files; a ref's path names a file inside it.
	Dir string `yaml:"dir"`
	// AllowDotenv lets production read .env-style files (the guide keeps .env files for
	// development only). Without it, in production, a ref to a .env file is a config error
	// and file contents are never parsed as dotenv.
	AllowDotenv bool `yaml:"allow_dotenv"`
}

// DotenvAllowed reports whether this backend may parse dotenv files.
func (s *Settings) DotenvAllowed(production bool) bool { return s.AllowDotenv || !production }

// Validate implements registry.Settings.
func (s *Settings) Validate(_ registry.Env, p *registry.Problems) {
	if s.Dir == "" {
		p.Add("dir", "required: the directory that holds the secret files, e.g. /run/secrets")
	}
}

// CheckRef implements registry.Settings with the rules Fetch applies.
func (s *Settings) CheckRef(env registry.Env, r fetcher.Ref, _ registry.Use) error {
	return checkRef(r, !s.DotenvAllowed(env.Production), "backends."+env.Name)
}

// Open implements registry.Settings.
func (s *Settings) Open(_ context.Context, env registry.Env) (fetcher.Backend, error) {
	var opts []Option
	if !s.DotenvAllowed(env.Production) {
		opts = append(opts, NoDotenv())
	}
	return New(env.Abs(s.Dir), env.Log, opts...)
}

// checkRef is the one parse of a file ref beyond the common grammar: no version, a path
// inside the directory, and (when dotenv is refused) not a .env file. entry names the
// backend's config entry for the fix.
func checkRef(r fetcher.Ref, noDotenv bool, entry string) error {
	switch {
	case r.Version != "":
		return fmt.Errorf("files have no versions; drop @%s", r.Version)
	case !filepath.IsLocal(r.Path):
		return fmt.Errorf("path %q must name a file inside the backend's dir (no absolute paths or ..)", r.Path)
	case noDotenv && isDotenvName(r.Path):
		return fmt.Errorf("a .env file, which production refuses (the guide keeps .env for development); use a secrets manager, or set %s.allow_dotenv: true", entry)
	}
	return nil
}

// isDotenvName matches .env, .env.production, app.env.
func isDotenvName(p string) bool {
	base := filepath.Base(p)
	return base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env")
}
