package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
)

// FileBackend reads secrets from files in Dir: Docker Swarm's /run/secrets, a Kubernetes
// secret volume, or a local directory for development.
type FileBackend struct {
	Type string `yaml:"type"`
	// Dir holds the files; a ref's path names a file inside it.
	Dir string `yaml:"dir"`
	// AllowDotenv lets production read .env-style files (the guide keeps .env files for
	// development only). Without it, in production, a ref to a .env file is a config error
	// and file contents are never parsed as dotenv.
	AllowDotenv bool `yaml:"allow_dotenv"`
}

// DotenvAllowed reports whether this backend may parse dotenv files under c.
func (b *FileBackend) DotenvAllowed(c *Config) bool { return b.AllowDotenv || !c.IsProduction() }

func (b *FileBackend) validate(path string, c *Config, p *Problems) {
	if b.Dir == "" {
		p.Add(path+".dir", "required: the directory that holds the secret files, e.g. /run/secrets")
	}
	if b.DotenvAllowed(c) {
		return
	}
	name := strings.TrimPrefix(path, "backends.")
	for i, s := range c.Secrets {
		for _, ref := range s.refs() {
			r, err := fetcher.ParseRef(ref)
			if err == nil && r.Backend == name && isDotenvName(r.Path) {
				p.Add(fmt.Sprintf("secrets[%d]", i), "%s is a .env file, which production refuses (the guide keeps .env for development); use a secrets manager, or set %s.allow_dotenv: true", ref, path)
			}
		}
	}
}

// isDotenvName matches .env, .env.production, app.env.
func isDotenvName(p string) bool {
	base := filepath.Base(p)
	return base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env")
}
