package config

// FileBackend reads secrets from files in Dir: Docker Swarm's /run/secrets, a Kubernetes
// secret volume, or a local directory for development.
type FileBackend struct {
	Type string `yaml:"type"`
	// Dir holds the files; a ref's path names a file inside it.
	Dir string `yaml:"dir"`
}

func (b *FileBackend) validate(path string, _ *Config, p *Problems) {
	if b.Dir == "" {
		p.Add(path+".dir", "required: the directory that holds the secret files, e.g. /run/secrets")
	}
}
