package config

// AWSBackend reads AWS Secrets Manager and SSM Parameter Store with credentials from the
// SDK's default chain.
type AWSBackend struct {
	Type     string `yaml:"type"`
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
	Profile  string `yaml:"profile"`
	RoleARN  string `yaml:"role_arn"`
}

func (b *AWSBackend) validate(path string, _ *Config, p *Problems) {
	p.Add(path+".type", "the aws backend is not in this build yet")
}
