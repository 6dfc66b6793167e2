package vault

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/patas/patas-secrets/fetcher/registry"
)

// validateExtras checks the AppRole secret_id options and the token sink.
func (a *AuthSettings) validateExtras(path, method string, p *registry.Problems) {
	approleOnly := map[string]bool{
		"secret_id_wrapped":                   a.SecretIDWrapped,
		"secret_id_wrapping_path":             a.SecretIDWrappingPath != "",
		"remove_secret_id_file_after_reading": a.RemoveSecretIDFile,
	}
	for name, set := range approleOnly {
		switch {
		case set && method != MethodAppRole:
			p.Add(path+"."+name, "applies only to auth method approle")
		case set && a.SecretIDFile == "":
			p.Add(path+"."+name, "needs secret_id_file")
		}
	}
	if a.SecretIDWrappingPath != "" && !a.SecretIDWrapped {
		p.Add(path+".secret_id_wrapping_path", "needs secret_id_wrapped: true")
	}
	if t := a.TokenSink; t != nil {
		if t.Path == "" {
			p.Add(path+".token_sink.path", "required: the file the token is written to, e.g. /run/patas/vault-token")
		}
		if t.Mode != "" {
			if m, err := strconv.ParseUint(t.Mode, 8, 32); err != nil || m > 0o777 {
				p.Add(path+".token_sink.mode", "%q is not an octal permission such as \"0400\"", t.Mode)
			}
		}
		if (t.UID != nil && *t.UID < 0) || (t.GID != nil && *t.GID < 0) {
			p.Add(path+".token_sink", "uid and gid must be 0 or more")
		}
	}
}

// open turns validated settings into a TokenSink (nil when absent).
func (t *TokenSinkSettings) open(env registry.Env) *TokenSink {
	if t == nil {
		return nil
	}
	s := &TokenSink{Path: env.Abs(t.Path), UID: -1, GID: -1}
	if m, err := strconv.ParseUint(t.Mode, 8, 32); err == nil {
		s.Mode = os.FileMode(m)
	}
	if t.UID != nil {
		s.UID = *t.UID
	}
	if t.GID != nil {
		s.GID = *t.GID
	}
	return s
}

// PKISettings is one entry of pki: {common_name, alt_names, ip_sans, ttl}.
type PKISettings struct {
	CommonName string   `yaml:"common_name"`
	AltNames   []string `yaml:"alt_names"`
	IPSANs     []string `yaml:"ip_sans"`
	TTL        string   `yaml:"ttl"`
}

func (s *Settings) validatePKI(p *registry.Problems) {
	for path, r := range s.PKI {
		at := fmt.Sprintf("pki[%q]", path)
		parts := strings.Split(strings.Trim(path, "/"), "/")
		if len(parts) < 3 || parts[len(parts)-2] != "issue" {
			p.Add(at, "want MOUNT/issue/ROLE, e.g. pki/issue/patas")
		}
		if r.CommonName == "" {
			p.Add(at+".common_name", "required: the certificate's name, e.g. patas.patas.svc")
		}
		if r.TTL != "" {
			if d, err := time.ParseDuration(r.TTL); err != nil || d <= 0 {
				p.Add(at+".ttl", "%q is not a duration such as \"24h\"", r.TTL)
			}
		}
	}
}

func (s *Settings) pkiRequests() map[string]PKIRequest {
	out := make(map[string]PKIRequest, len(s.PKI))
	for path, r := range s.PKI {
		ttl, _ := time.ParseDuration(r.TTL)
		out[strings.Trim(path, "/")] = PKIRequest{CommonName: r.CommonName, AltNames: r.AltNames, IPSANs: r.IPSANs, TTL: ttl}
	}
	return out
}
