package config

// VaultBackend reads HashiCorp Vault. Credentials come from VAULT_TOKEN, a token file or an
// auth method's own files, never from this config.
type VaultBackend struct {
	Type          string    `yaml:"type"`
	Address       string    `yaml:"address"`
	Namespace     string    `yaml:"namespace"`
	CACert        string    `yaml:"ca_cert"`
	TLSServerName string    `yaml:"tls_server_name"`
	Auth          VaultAuth `yaml:"auth"`
}

// VaultAuth says how to log in.
type VaultAuth struct {
	Method       string `yaml:"method"`
	Mount        string `yaml:"mount"`
	Role         string `yaml:"role"`
	TokenFile    string `yaml:"token_file"`
	RoleIDFile   string `yaml:"role_id_file"`
	SecretIDFile string `yaml:"secret_id_file"`
	JWTFile      string `yaml:"jwt_file"`
}

func (b *VaultBackend) validate(path string, _ *Config, p *Problems) {
	p.Add(path+".type", "the vault backend is not in this build yet")
}
