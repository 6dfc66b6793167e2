package vault

import (
	"os"
	"strconv"

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
