package config

// GCPBackend reads Google Secret Manager with application default credentials.
type GCPBackend struct {
	Type     string `yaml:"type"`
	Project  string `yaml:"project"`
	Location string `yaml:"location"`
	Endpoint string `yaml:"endpoint"`
}

func (b *GCPBackend) validate(path string, _ *Config, p *Problems) {
	p.Add(path+".type", "the gcp backend is not in this build yet")
}
