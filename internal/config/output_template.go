package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/internal/tmpl"
)

// MaxTemplateSize bounds a template file: a config file, a userlist or a TLS bundle is far
// smaller, and a larger file is more likely a mistake (a binary, /dev/zero) than a template.
const MaxTemplateSize = 1 << 20

var errTemplateTooBig = fmt.Errorf("is larger than %d bytes", MaxTemplateSize)

// ReadTemplate reads the template file of a template output. It must be a regular file
// (not a FIFO or a device that would block or never end) of at most MaxTemplateSize bytes.
func (c *Config) ReadTemplate(o Output) (string, error) {
	path := c.Abs(o.Template)
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxTemplateSize+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxTemplateSize {
		return "", fmt.Errorf("%s %w", path, errTemplateTooBig)
	}
	return string(b), nil
}

// ParseTemplate reads and parses the template of a template output.
func (c *Config) ParseTemplate(o Output) (*tmpl.Template, error) {
	text, err := c.ReadTemplate(o)
	if err != nil {
		return nil, err
	}
	return tmpl.Parse(filepath.Base(o.Template), text)
}

// validateOutputTemplate checks the template field: required by the template format (a
// file that parses, whose secret calls name known backends), refused by every other.
func (c *Config) validateOutputTemplate(p *Problems, path string, o Output) {
	if o.Format != "template" {
		if o.Template != "" {
			p.Add(path+".template", "applies only to format: template")
		}
		return
	}
	if o.Template == "" {
		p.Add(path+".template", "required with format: template: the template file, e.g. templates/pgbouncer-userlist.tmpl")
		return
	}
	t, err := c.ParseTemplate(o)
	if err != nil && t == nil {
		p.Add(path+".template", "%v", err)
		return
	}
	if err != nil {
		// Parse names every problem; each is about the template text, never a value.
		for _, e := range unjoin(err) {
			p.Add(path+".template", "%s: %v", o.Template, e)
		}
	}
	for _, r := range t.Refs() {
		// An output template may range over every key of a secret, as expand does.
		c.checkRef(p, path+".template", r.String(), registry.Use{Expand: true})
	}
	if c.IsProduction() && !c.Hygiene.AllowInlineValues && t.HasInlinePassword() {
		p.Add(path+".template", "%s holds a literal password in a URL; take it from a backend with {{ secret \"backend:path\" }} (or set hygiene.allow_inline_values)", o.Template)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (c *Config) hasTemplateOutput() bool {
	for _, o := range c.Outputs {
		if o.Format == "template" {
			return true
		}
	}
	return false
}
