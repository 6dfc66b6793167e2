package fetcher

import (
	"fmt"
	"strings"
)

// Ref names one secret: <backend>:<path>[#<key>][@<version>].
//
// The path is backend-specific (a file name, a Vault path, an AWS name or ARN, a GCP name or
// resource name). Key selects one field of a JSON object (or dotenv) secret; Version pins a
// version (a Vault or GCP version number, an AWS version id or stage).
type Ref struct {
	Backend string
	Path    string
	Key     string
	Version string
}

// ParseRef parses s. The path may itself contain ':' and '/' (ARNs, ssm:/a/b, GCP resource
// names); '#' starts the key and the last '@' after the path starts the version.
func ParseRef(s string) (Ref, error) {
	backend, rest, ok := strings.Cut(s, ":")
	if !ok || backend == "" {
		return Ref{}, fmt.Errorf("reference %q: want <backend>:<path>[#key][@version]", s)
	}
	if !validName(backend) {
		return Ref{}, fmt.Errorf("reference %q: backend name %q may hold only letters, digits, '_' and '-'", s, backend)
	}
	var r Ref
	r.Backend = backend
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		r.Version = rest[i+1:]
		rest = rest[:i]
		if r.Version == "" {
			return Ref{}, fmt.Errorf("reference %q: empty version after '@'", s)
		}
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		r.Key = rest[i+1:]
		rest = rest[:i]
		if r.Key == "" {
			return Ref{}, fmt.Errorf("reference %q: empty key after '#'", s)
		}
	}
	r.Path = rest
	if r.Path == "" {
		return Ref{}, fmt.Errorf("reference %q: empty path", s)
	}
	return r, nil
}

// String prints r in the form ParseRef reads.
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(r.Backend)
	b.WriteByte(':')
	b.WriteString(r.Path)
	if r.Key != "" {
		b.WriteByte('#')
		b.WriteString(r.Key)
	}
	if r.Version != "" {
		b.WriteByte('@')
		b.WriteString(r.Version)
	}
	return b.String()
}

// Source is r without its key: what one backend read returns. Several refs that differ only
// in their key share one read per refresh.
func (r Ref) Source() Ref {
	r.Key = ""
	return r
}

func validName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
