package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
)

// Type registers the vault backend: `type: vault` in a backends entry.
var Type = registry.Type{Name: "vault", New: func() registry.Settings { return &Settings{} }}

// Settings of a vault backend. Credentials come from VAULT_TOKEN, a token file or an auth
// method's own files, never from the config. Every field left empty falls back to the
// standard Vault environment variable (VAULT_ADDR, VAULT_NAMESPACE, VAULT_CACERT, …).
type Settings struct {
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
	AllowInsecure bool         `yaml:"allow_insecure"`
	Auth          AuthSettings `yaml:"auth"`
	// PKI: what each pki/issue/ROLE path read as a secret asks for (config_extras.go).
	PKI map[string]PKISettings `yaml:"pki"`
}

// AuthSettings says how to log in.
type AuthSettings struct {
	Method       string `yaml:"method"`
	Mount        string `yaml:"mount"`
	Role         string `yaml:"role"`
	TokenFile    string `yaml:"token_file"`
	RoleIDFile   string `yaml:"role_id_file"`
	SecretIDFile string `yaml:"secret_id_file"`
	JWTFile      string `yaml:"jwt_file"`
	// AppRole: the secret_id file holds a response-wrapping token (wrap_ttl) to unwrap at
	// login, optionally checked against the path it was created at; the file is removed
	// once read. approle.go.
	SecretIDWrapped      bool   `yaml:"secret_id_wrapped"`
	SecretIDWrappingPath string `yaml:"secret_id_wrapping_path"`
	RemoveSecretIDFile   bool   `yaml:"remove_secret_id_file_after_reading"`
	// TokenSink writes the backend's token to a file for an app that talks to Vault.
	TokenSink *TokenSinkSettings `yaml:"token_sink"`
}

// TokenSinkSettings is auth.token_sink: {path, mode, uid, gid}.
type TokenSinkSettings struct {
	Path string `yaml:"path"`
	Mode string `yaml:"mode"` // quoted octal, default "0400"
	UID  *int   `yaml:"uid"`
	GID  *int   `yaml:"gid"`
}

// AuthMethods lists the values of auth.method; an empty method means token.
var AuthMethods = []string{MethodToken, MethodAppRole, MethodKubernetes, MethodJWT}

// AuthMethod is auth.method with its default (token) applied.
func (s *Settings) AuthMethod() string {
	if s.Auth.Method == "" {
		return MethodToken
	}
	return s.Auth.Method
}

// Validate implements registry.Settings.
func (s *Settings) Validate(env registry.Env, p *registry.Problems) {
	if s.Address != "" && !strings.HasPrefix(s.Address, "https://") && !strings.HasPrefix(s.Address, "http://") {
		p.Add("address", "%q: want an https:// (or http://) URL", s.Address)
	}
	if (s.ClientCert == "") != (s.ClientKey == "") {
		p.Add("client_cert", "client_cert and client_key go together")
	}
	if env.Production && !s.AllowInsecure {
		addr, from := s.Address, "address"
		if addr == "" {
			addr, from = os.Getenv("VAULT_ADDR"), "VAULT_ADDR"
		}
		if strings.HasPrefix(addr, "http://") {
			p.Add("address", "%s is %s: plain http in environment: production sends the Vault token unencrypted; use https, or set allow_insecure: true", from, addr)
		}
		skip, _ := strconv.ParseBool(os.Getenv("VAULT_SKIP_VERIFY"))
		if s.TLSSkipVerify || skip {
			p.Add("tls_skip_verify", "TLS verification is disabled (tls_skip_verify or VAULT_SKIP_VERIFY) in environment: production; set ca_cert instead, or set allow_insecure: true")
		}
	}
	s.Auth.validate("auth", s.AuthMethod(), p)
	s.validatePKI(p)
}

// validate checks that each method gets the fields it needs and no field it would ignore.
func (a *AuthSettings) validate(path, method string, p *registry.Problems) {
	type field struct {
		name, value string
		usedBy      []string
	}
	fields := []field{
		{"mount", a.Mount, []string{MethodAppRole, MethodKubernetes, MethodJWT}},
		{"role", a.Role, []string{MethodKubernetes, MethodJWT}},
		{"token_file", a.TokenFile, []string{MethodToken, MethodKubernetes}},
		{"role_id_file", a.RoleIDFile, []string{MethodAppRole}},
		{"secret_id_file", a.SecretIDFile, []string{MethodAppRole}},
		{"jwt_file", a.JWTFile, []string{MethodJWT}},
	}
	known := false
	for _, m := range AuthMethods {
		known = known || m == method
	}
	if !known {
		p.Add(path+".method", "unknown auth method %q (methods: %s)", method, strings.Join(AuthMethods, ", "))
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
	case MethodAppRole:
		if a.RoleIDFile == "" {
			p.Add(path+".role_id_file", "required for approle: the file that holds the role_id")
		}
	case MethodKubernetes:
		if a.Role == "" {
			p.Add(path+".role", "required for kubernetes: the Vault role bound to this service account, e.g. patas")
		}
	case MethodJWT:
		if a.JWTFile == "" {
			p.Add(path+".jwt_file", "required for jwt: the file that holds the JWT")
		}
	}
	a.validateExtras(path, method, p)
	if strings.Trim(a.Mount, "/") == "" && a.Mount != "" {
		p.Add(path+".mount", "%q is not a mount path", a.Mount)
	}
}

// CheckRef implements registry.Settings with the parse Fetch uses.
func (s *Settings) CheckRef(_ registry.Env, r fetcher.Ref, _ registry.Use) error {
	_, err := parseRef(r)
	return err
}

// Open implements registry.Settings; files are taken relative to the config file.
func (s *Settings) Open(_ context.Context, env registry.Env) (fetcher.Backend, error) {
	return New(Options{
		Address:       s.Address,
		Namespace:     s.Namespace,
		CACert:        env.Abs(s.CACert),
		CAPath:        env.Abs(s.CAPath),
		ClientCert:    env.Abs(s.ClientCert),
		ClientKey:     env.Abs(s.ClientKey),
		TLSServerName: s.TLSServerName,
		TLSSkipVerify: s.TLSSkipVerify,
		RequireTLS:    env.Production && !s.AllowInsecure,
		Auth: Auth{
			Method:               s.AuthMethod(),
			Mount:                s.Auth.Mount,
			Role:                 s.Auth.Role,
			TokenFile:            env.Abs(s.Auth.TokenFile),
			RoleIDFile:           env.Abs(s.Auth.RoleIDFile),
			SecretIDFile:         env.Abs(s.Auth.SecretIDFile),
			JWTFile:              env.Abs(s.Auth.JWTFile),
			SecretIDWrapped:      s.Auth.SecretIDWrapped,
			SecretIDWrappingPath: s.Auth.SecretIDWrappingPath,
			RemoveSecretIDFile:   s.Auth.RemoveSecretIDFile,
			TokenSink:            s.Auth.TokenSink.open(env),
		},
		PKI: s.pkiRequests(),
	}, env.Log)
}

// parseRef is the one parse of a vault ref beyond the common grammar: the path without
// its surrounding slashes, and a version that is a KV v2 version number.
func parseRef(r fetcher.Ref) (fetcher.Ref, error) {
	r.Path = strings.Trim(r.Path, "/")
	if r.Path == "" {
		return r, errors.New("empty path: want MOUNT/PATH, e.g. secret/patas")
	}
	if r.Version != "" {
		if n, err := strconv.Atoi(r.Version); err != nil || n < 1 {
			return r, fmt.Errorf("version %q: want a version number (1, 2, …)", r.Version)
		}
	}
	return r, nil
}
