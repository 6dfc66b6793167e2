package config

import (
	"os"
	"strconv"
	"strings"
)

// VaultBackend reads HashiCorp Vault. Credentials come from VAULT_TOKEN, a token file or an
// auth method's own files, never from this config. Every field left empty falls back to
// the standard Vault environment variable (VAULT_ADDR, VAULT_NAMESPACE, VAULT_CACERT, …).
type VaultBackend struct {
	Type          string `yaml:"type"`
	Address       string `yaml:"address"`
	Namespace     string `yaml:"namespace"`
	CACert        string `yaml:"ca_cert"`
	CAPath        string `yaml:"ca_path"`
	ClientCert    string `yaml:"client_cert"`
	ClientKey     string `yaml:"client_key"`
	TLSServerName string `yaml:"tls_server_name"`
	TLSSkipVerify bool   `yaml:"tls_skip_verify"`
	// AllowInsecure permits an http:// address or tls_skip_verify (or VAULT_SKIP_VERIFY)
	// in environment: production, where both are otherwise refused.
	AllowInsecure bool      `yaml:"allow_insecure"`
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

// VaultAuthMethods lists the values of auth.method; an empty method means token.
var VaultAuthMethods = []string{"token", "approle", "kubernetes", "jwt"}

// Vault auth method names.
const (
	VaultAuthToken      = "token"
	VaultAuthAppRole    = "approle"
	VaultAuthKubernetes = "kubernetes"
	VaultAuthJWT        = "jwt"
)

// AuthMethod is auth.method with its default (token) applied.
func (b *VaultBackend) AuthMethod() string {
	if b.Auth.Method == "" {
		return VaultAuthToken
	}
	return b.Auth.Method
}

func (b *VaultBackend) validate(path string, c *Config, p *Problems) {
	if b.Address != "" && !strings.HasPrefix(b.Address, "https://") && !strings.HasPrefix(b.Address, "http://") {
		p.Add(path+".address", "%q: want an https:// (or http://) URL", b.Address)
	}
	if (b.ClientCert == "") != (b.ClientKey == "") {
		p.Add(path+".client_cert", "client_cert and client_key go together")
	}
	if c.IsProduction() && !b.AllowInsecure {
		addr, from := b.Address, "address"
		if addr == "" {
			addr, from = os.Getenv("VAULT_ADDR"), "VAULT_ADDR"
		}
		if strings.HasPrefix(addr, "http://") {
			p.Add(path+".address", "%s is %s: plain http in environment: production sends the Vault token unencrypted; use https, or set allow_insecure: true", from, addr)
		}
		skip, _ := strconv.ParseBool(os.Getenv("VAULT_SKIP_VERIFY"))
		if b.TLSSkipVerify || skip {
			p.Add(path+".tls_skip_verify", "TLS verification is disabled (tls_skip_verify or VAULT_SKIP_VERIFY) in environment: production; set ca_cert instead, or set allow_insecure: true")
		}
	}
	b.Auth.validate(path+".auth", b.AuthMethod(), p)
}

// validate checks that each method gets the fields it needs and no field it would ignore.
func (a *VaultAuth) validate(path, method string, p *Problems) {
	type field struct {
		name, value string
		usedBy      []string
	}
	fields := []field{
		{"mount", a.Mount, []string{VaultAuthAppRole, VaultAuthKubernetes, VaultAuthJWT}},
		{"role", a.Role, []string{VaultAuthKubernetes, VaultAuthJWT}},
		{"token_file", a.TokenFile, []string{VaultAuthToken, VaultAuthKubernetes}},
		{"role_id_file", a.RoleIDFile, []string{VaultAuthAppRole}},
		{"secret_id_file", a.SecretIDFile, []string{VaultAuthAppRole}},
		{"jwt_file", a.JWTFile, []string{VaultAuthJWT}},
	}
	known := false
	for _, m := range VaultAuthMethods {
		known = known || m == method
	}
	if !known {
		p.Add(path+".method", "unknown auth method %q (methods: %s)", method, strings.Join(VaultAuthMethods, ", "))
		return
	}
	for _, f := range fields {
		used := false
		for _, m := range f.usedBy {
			used = used || m == method
		}
		if f.value != "" && !used {
			p.Add(path+"."+f.name, "does not apply to auth method %s (it is for: %s)", method, strings.Join(f.usedBy, ", "))
		}
	}
	switch method {
	case VaultAuthAppRole:
		if a.RoleIDFile == "" {
			p.Add(path+".role_id_file", "required for approle: the file that holds the role_id")
		}
	case VaultAuthKubernetes:
		if a.Role == "" {
			p.Add(path+".role", "required for kubernetes: the Vault role bound to this service account, e.g. patas")
		}
	case VaultAuthJWT:
		if a.JWTFile == "" {
			p.Add(path+".jwt_file", "required for jwt: the file that holds the JWT")
		}
	}
	if strings.Trim(a.Mount, "/") == "" && a.Mount != "" {
		p.Add(path+".mount", "%q is not a mount path", a.Mount)
	}
}
