package config

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Backend is one entry of backends. Type picks which of the typed settings applies; each
// type's settings live in its own file (backend_file.go, backend_vault.go, …) and are
// decoded strictly, so a field of another type is an unknown field.
type Backend struct {
	Type  string
	File  *FileBackend
	Vault *VaultBackend
	AWS   *AWSBackend
	GCP   *GCPBackend
}

// BackendTypes lists the values of type.
var BackendTypes = []string{"aws", "file", "gcp", "vault"}

func (b *Backend) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return typeError(n, "a backend is a mapping with a type, e.g. {type: file, dir: /run/secrets}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			b.Type = n.Content[i+1].Value
		}
	}
	var target any
	switch b.Type {
	case "file":
		b.File = &FileBackend{}
		target = b.File
	case "vault":
		b.Vault = &VaultBackend{}
		target = b.Vault
	case "aws":
		b.AWS = &AWSBackend{}
		target = b.AWS
	case "gcp":
		b.GCP = &GCPBackend{}
		target = b.GCP
	case "":
		return typeError(n, "backend has no type (types: %s)", strings.Join(BackendTypes, ", "))
	default:
		return typeError(n, "unknown backend type %q (types: %s)", b.Type, strings.Join(BackendTypes, ", "))
	}
	return decodeStrict(n, target)
}

var lineRE = regexp.MustCompile(`^line (\d+): `)

// decodeStrict decodes n into out with unknown fields rejected. yaml.v3 does not carry
// KnownFields into a custom unmarshaler, so the node is re-encoded and decoded again; the
// line numbers are then mapped back onto the original file.
func decodeStrict(n *yaml.Node, out any) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return typeError(n, "%v", err)
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	err := dec.Decode(out)
	if err == nil {
		return nil
	}
	te, ok := err.(*yaml.TypeError)
	if !ok {
		return typeError(n, "%v", err)
	}
	for i, msg := range te.Errors {
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			var l int
			fmt.Sscan(m[1], &l)
			te.Errors[i] = fmt.Sprintf("line %d: ", n.Line+l-1) + msg[len(m[0]):]
		}
	}
	return te
}

// backendNames returns the configured backend names, sorted, for error messages.
func (c *Config) backendNames() string {
	names := make([]string, 0, len(c.Backends))
	for n := range c.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}
