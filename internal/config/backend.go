package config

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/patas/patas-secrets/fetcher/registry"
)

// Backend is one entry of backends. Its settings belong to its type, which the registry
// the config was parsed with supplies; config itself knows no backend type.
type Backend struct {
	Type string
	// Settings is the entry decoded into its type's settings; nil when the type is not in
	// the registry (a problem says so).
	Settings registry.Settings

	node *yaml.Node // the entry, decoded by decodeBackends once the registry is known
}

func (b *Backend) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return typeError(n, "a backend is a mapping with a type, e.g. {type: file, dir: /run/secrets}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			b.Type = n.Content[i+1].Value
		}
	}
	b.node = n
	return nil
}

// decodeBackends decodes each entry strictly into its type's settings.
func (c *Config) decodeBackends(reg *registry.Registry, p *Problems) {
	for _, name := range c.BackendNames() {
		b := c.Backends[name]
		path := "backends." + name
		t, err := reg.Lookup(b.Type)
		if err != nil {
			p.Add(path, "%v", err)
			continue
		}
		b.Settings = t.New()
		if err := decodeStrict(b.node, b.Settings); err != nil {
			for _, msg := range yamlErrors(err) {
				p.Add(path, "%s", friendlyBackendYAML(msg))
			}
		}
		c.Backends[name] = b
	}
}

// BackendEnv is what the settings of backend name need from the config.
func (c *Config) BackendEnv(name string, log *zap.Logger) registry.Env {
	return registry.Env{Name: name, Production: c.IsProduction(), Dir: c.Dir, Log: log}
}

var (
	lineRE   = regexp.MustCompile(`^line (\d+): `)
	inTypeRE = regexp.MustCompile(` in type \*?[\w.]+`)
)

// friendlyBackendYAML drops the Go type from yaml.v3's messages about a backend's settings:
// the problem's path names the entry already.
func friendlyBackendYAML(msg string) string {
	return friendlyYAML(inTypeRE.ReplaceAllString(msg, ""))
}

// yamlErrors lists the messages of a decode error.
func yamlErrors(err error) []string {
	if te, ok := err.(*yaml.TypeError); ok {
		return te.Errors
	}
	return []string{err.Error()}
}

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

// BackendNames lists the configured backends, sorted.
func (c *Config) BackendNames() []string {
	names := make([]string, 0, len(c.Backends))
	for n := range c.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// backendNames returns the configured backend names, sorted, for error messages.
func (c *Config) backendNames() string {
	if len(c.Backends) == 0 {
		return "none configured"
	}
	return strings.Join(c.BackendNames(), ", ")
}
