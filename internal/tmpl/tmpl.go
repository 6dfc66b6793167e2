// Package tmpl renders the template entries of a config: text/template with a secret
// function whose argument must be a quoted reference, so that every secret a template uses
// is known before the refresh starts (one read each) and a template can never render
// "<no value>" in place of a password.
package tmpl

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/patas/patas-secrets/fetcher"
)

// Template is a parsed template entry.
type Template struct {
	name string
	t    *template.Template
	refs []fetcher.Ref
}

// Lookup returns the value of a reference, with its #key applied.
type Lookup func(fetcher.Ref) (fetcher.Value, error)

func unbound(string) (string, error) { return "", errors.New("secret is not bound") }

// Parse parses text and collects the references its secret calls name. Every problem is
// returned, joined.
func Parse(name, text string) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs(unbound, func(...string) {})).Parse(text)
	if err != nil {
		return nil, err
	}
	tp := &Template{name: name, t: t}
	var errs []error
	seen := map[string]bool{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		walk(tt.Tree.Root, func(c *parse.CommandNode) {
			id, ok := c.Args[0].(*parse.IdentifierNode)
			if ok && id.Ident == "env" {
				errs = append(errs, checkEnv(c)...)
			}
			if !ok || id.Ident != "secret" {
				return
			}
			s, ok := arg1(c)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: secret takes one quoted reference, as in {{ secret \"backend:path#key\" }}", c))
				return
			}
			r, err := fetcher.ParseRef(s)
			if err != nil {
				errs = append(errs, err)
				return
			}
			if !seen[s] {
				seen[s] = true
				tp.refs = append(tp.refs, r)
			}
		})
	}
	if len(tp.refs) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("template calls no secret: use env with a plain value elsewhere, or {{ secret \"backend:path\" }}"))
	}
	return tp, errors.Join(errs...)
}

func arg1(c *parse.CommandNode) (string, bool) {
	if len(c.Args) != 2 {
		return "", false
	}
	s, ok := c.Args[1].(*parse.StringNode)
	if !ok {
		return "", false
	}
	return s.Text, true
}

// Refs returns the references the template reads, in order of first use.
func (t *Template) Refs() []fetcher.Ref { return t.refs }

// Execute renders the template with values from lookup. Any error is scrubbed of every
// value the template read, so it cannot carry a secret into a log.
func (t *Template) Execute(lookup Lookup) (fetcher.Value, error) {
	var revealed []string
	secret := func(s string) (string, error) {
		r, err := fetcher.ParseRef(s)
		if err != nil {
			return "", err
		}
		v, err := lookup(r)
		if err != nil {
			return "", err
		}
		revealed = append(revealed, string(v.Reveal()))
		return string(v.Reveal()), nil
	}
	note := func(s ...string) { revealed = append(revealed, s...) }
	clone, err := t.t.Clone()
	if err != nil {
		return fetcher.Value{}, err
	}
	var b strings.Builder
	err = clone.Funcs(funcs(secret, note)).Execute(&b, map[string]any{})
	if err != nil {
		return fetcher.Value{}, errors.New(scrub(err.Error(), revealed))
	}
	out := b.String()
	if strings.Contains(out, "<no value>") {
		return fetcher.Value{}, errors.New(`template rendered "<no value>"`)
	}
	return fetcher.StringValue(out), nil
}

// scrub replaces each revealed value in msg with [REDACTED], the longest first so that a
// value holding another is not left half shown.
func scrub(msg string, revealed []string) string {
	revealed = slices.Clone(revealed)
	slices.SortFunc(revealed, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, v := range revealed {
		if v != "" {
			pairs = append(pairs, v, "[REDACTED]")
		}
	}
	if len(pairs) == 0 {
		return msg
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// URLEncode escapes s for any part of a URL (user, password, path segment, query): every
// byte but RFC 3986's unreserved characters is percent-encoded, so a password with '@',
// ':', '/' or '%' cannot break DATABASE_URL.
func URLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// inlinePassword matches scheme://user:password@ in literal text.
var inlinePassword = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s\x00]+:[^/@\s\x00]+@`)

// HasInlinePassword reports whether the template's literal text (outside {{ }}) holds a URL
// with a password in it.
func (t *Template) HasInlinePassword() bool {
	var text strings.Builder
	for _, tt := range t.t.Templates() {
		if tt.Tree == nil {
			continue
		}
		for _, n := range tt.Tree.Root.Nodes {
			if tn, ok := n.(*parse.TextNode); ok {
				text.Write(tn.Text)
			}
			text.WriteString("\x00") // an action splits the text: user:{{ secret }}@ is fine
		}
	}
	return inlinePassword.MatchString(text.String())
}

// checkEnv requires env's name to be a quoted literal (so check can judge it) that does not
// look like a credential: env is for non-secret settings such as a host name.
func checkEnv(c *parse.CommandNode) []error {
	if len(c.Args) < 2 || len(c.Args) > 3 {
		return []error{fmt.Errorf("%s: env takes a quoted name and an optional default, as in {{ env \"DB_HOST\" \"db\" }}", c)}
	}
	s, ok := c.Args[1].(*parse.StringNode)
	if !ok {
		return []error{fmt.Errorf("%s: env takes a quoted name, as in {{ env \"DB_HOST\" }}", c)}
	}
	if secretLikeEnv.MatchString(s.Text) {
		return []error{fmt.Errorf("env %q: the name looks like a credential; env is for non-secret settings, read secrets with {{ secret \"backend:path\" }}", s.Text)}
	}
	return nil
}
