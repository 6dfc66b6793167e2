package config

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
	"github.com/patas/patas-secrets/internal/tmpl"
	"github.com/patas/patas-secrets/sinks"
)

// Validate checks everything that can be checked without reaching a backend and returns
// every problem found, each with its path. It never includes a secret value: the config
// holds none.
func (c *Config) Validate() Problems {
	var p Problems
	if !slices.Contains(Environments, c.Environment) {
		p.Add("environment", "unknown environment %q (one of: %s)", c.Environment, strings.Join(Environments, ", "))
	}
	c.validateBackends(&p)
	envs := c.validateSecrets(&p)
	c.validateOutputs(&p)
	c.validateRefresh(&p)
	if c.Notify != nil {
		c.Notify.validate("notify", c, &p)
	}
	if c.Listen != ListenDisabled {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
			p.Add("listen", "%q is not host:port (e.g. 127.0.0.1:9102; %q turns the server off)", c.Listen, ListenDisabled)
		}
	}
	if pr := c.Validation.Profile; pr != "" && !slices.Contains(Profiles, pr) {
		p.Add("validate.profile", "unknown profile %q (profiles: %s)", pr, strings.Join(Profiles, ", "))
	}
	if c.Hygiene.MinLength != nil && *c.Hygiene.MinLength < 0 {
		p.Add("hygiene.min_length", "must be 0 or more (0 turns the length check off)")
	}
	c.validateInlineValues(&p)
	for i, name := range c.Validation.Required {
		if !envs[name] && !c.hasExpand() {
			p.Add(fmt.Sprintf("validate.required[%d]", i), "%s is not produced by any secrets entry", name)
		}
	}
	return p
}

func (c *Config) validateBackends(p *Problems) {
	if len(c.Backends) == 0 {
		p.Add("backends", "at least one backend is required, e.g. {swarm: {type: file, dir: /run/secrets}}")
	}
	for name, b := range c.Backends {
		path := "backends." + name
		if _, err := fetcher.ParseRef(name + ":x"); err != nil {
			p.Add(path, "backend names may hold only letters, digits, '_' and '-'")
		}
		if b.Settings == nil {
			continue // decodeBackends said why
		}
		var bp registry.Problems
		b.Settings.Validate(c.BackendEnv(name, nil), &bp)
		for _, x := range bp {
			at := path
			if x.Field != "" {
				at += "." + x.Field
			}
			p.Add(at, "%s", x.Msg)
		}
	}
}

// validateSecrets checks each entry and returns the variable names the entries set by name.
func (c *Config) validateSecrets(p *Problems) map[string]bool {
	if len(c.Secrets) == 0 && !c.hasTemplateOutput() {
		p.Add("secrets", "at least one entry is required (or an output with format: template)")
	}
	envs := map[string]int{}
	for i, s := range c.Secrets {
		path := fmt.Sprintf("secrets[%d]", i)
		switch {
		case s.Ref != "" && s.Template != "":
			p.Add(path, "has both ref and template; keep one")
		case s.Ref == "" && s.Template == "":
			p.Add(path, "needs a ref (backend:path#key) or a template")
		case s.Ref != "":
			c.checkRef(p, path+".ref", s.Ref, registry.Use{Expand: s.Expand})
			if r, err := fetcher.ParseRef(s.Ref); err == nil && s.Expand && r.Key != "" {
				p.Add(path+".ref", "expand takes a whole JSON object; drop #%s", r.Key)
			}
		default:
			t, err := tmpl.Parse(s.Env, s.Template)
			if err != nil {
				p.Add(path+".template", "%v", err)
			}
			if t != nil {
				for _, r := range t.Refs() {
					c.checkRef(p, path+".template", r.String(), registry.Use{})
				}
			}
			if s.Expand {
				p.Add(path+".expand", "expand applies to a ref, not a template")
			}
		}
		switch {
		case s.Expand && s.Env != "":
			p.Add(path+".env", "expand sets one variable per key; drop env (use prefix to prefix the names)")
		case !s.Expand && s.Env == "":
			p.Add(path+".env", "required: the variable to set (or expand: true to set one per JSON key)")
		case s.Env != "" && !sinks.ValidName(s.Env):
			p.Add(path+".env", "%q is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)", s.Env)
		}
		if s.Prefix != "" && !s.Expand {
			p.Add(path+".prefix", "prefix applies only with expand: true")
		}
		if s.Prefix != "" && !sinks.ValidName(s.Prefix) {
			p.Add(path+".prefix", "%q cannot start a variable name", s.Prefix)
		}
		c.validateExpandLists(p, path, s)
		if s.Overlap < 0 {
			p.Add(path+".overlap", "must not be negative")
		}
		if s.Overlap > 0 && (s.Ref == "" || s.Expand) {
			p.Add(path+".overlap", "applies to one list variable read with env and ref (not a template or expand)")
		}
		if s.Env != "" {
			if j, dup := envs[s.Env]; dup {
				p.Add(path+".env", "%s is already set by secrets[%d]", s.Env, j)
			} else {
				envs[s.Env] = i
			}
		}
	}
	c.validateFallbacks(p, envs)
	set := make(map[string]bool, len(envs))
	for k := range envs {
		set[k] = true
	}
	return set
}

func (c *Config) validateFallbacks(p *Problems, envs map[string]int) {
	for i, s := range c.Secrets {
		if s.Fallback == "" {
			continue
		}
		path := fmt.Sprintf("secrets[%d].fallback", i)
		if s.Expand {
			p.Add(path, "fallback applies to one variable, not to expand")
			continue
		}
		if s.Fallback == s.Env {
			p.Add(path, "falls back to itself")
			continue
		}
		if _, ok := envs[s.Fallback]; !ok && !c.hasExpand() {
			p.Add(path, "%s is not set by any other entry", s.Fallback)
			continue
		}
		// Follow the chain to catch a cycle (A falls back to B, B to A).
		seen := map[string]bool{s.Env: true}
		for cur := s.Fallback; cur != ""; {
			if seen[cur] {
				p.Add(path, "fallback chain from %s loops back to %s", s.Env, cur)
				break
			}
			seen[cur] = true
			j, ok := envs[cur]
			if !ok {
				break
			}
			cur = c.Secrets[j].Fallback
		}
	}
}

// checkRef parses ref with the common grammar, then lets its backend check the rest with
// the parse its Fetch uses, and reports the backend's error at path.
func (c *Config) checkRef(p *Problems, path, ref string, use registry.Use) {
	r, err := fetcher.ParseRef(ref)
	if err != nil {
		p.Add(path, "%v", err)
		return
	}
	b, ok := c.Backends[r.Backend]
	switch {
	case !ok:
		p.Add(path, "unknown backend %q (backends: %s)", r.Backend, c.backendNames())
	case b.Settings == nil:
	default:
		if err := b.Settings.CheckRef(c.BackendEnv(r.Backend, nil), r, use); err != nil {
			p.Add(path, "%s: %v", r, err)
		}
	}
}

func (c *Config) hasExpand() bool {
	for _, s := range c.Secrets {
		if s.Expand {
			return true
		}
	}
	return false
}

func (c *Config) validateOutputs(p *Problems) {
	if len(c.Outputs) == 0 {
		p.Add("outputs", "at least one output is required, e.g. {format: dotenv, path: /run/patas/secrets.env}")
	}
	paths := map[string]int{}
	for i, o := range c.Outputs {
		path := fmt.Sprintf("outputs[%d]", i)
		if !slices.Contains(sinks.Formats, o.Format) {
			p.Add(path+".format", "unknown format %q (formats: %s)", o.Format, strings.Join(sinks.Formats, ", "))
		}
		if o.Path == "" {
			p.Add(path+".path", "required")
		} else {
			abs := filepath.Clean(c.Abs(o.Path))
			if j, dup := paths[abs]; dup {
				p.Add(path+".path", "%s is also written by outputs[%d]", o.Path, j)
			}
			paths[abs] = i
		}
		if o.UID != nil && *o.UID < 0 {
			p.Add(path+".uid", "must be 0 or more")
		}
		if o.GID != nil && *o.GID < 0 {
			p.Add(path+".gid", "must be 0 or more")
		}
		c.validateOutputTemplate(p, path, o)
		c.validateOutputExtras(p, path, o)
	}
}

func (c *Config) validateRefresh(p *Problems) {
	c.validateRetry(p)
	if d := time.Duration(c.Refresh.Interval); d < time.Second {
		p.Add("refresh.interval", "must be at least 1s, got %s", d)
	}
	if c.Refresh.ReadTimeout < 0 {
		p.Add("refresh.read_timeout", "must not be negative")
	}
	// A healthy sidecar's outputs can be as old as the longest wait between refreshes plus
	// the longest read: a smaller max_staleness makes readiness flap.
	iv := time.Duration(c.Refresh.Interval)
	least := time.Duration(float64(iv)*(1+c.Refresh.JitterFraction())) + c.Refresh.ReadTimeoutOrDefault()
	if s := time.Duration(c.Refresh.MaxStaleness); s <= least {
		p.Add("refresh.max_staleness", "must exceed interval × (1 + jitter) + read_timeout (%s × %.2f + %s = %s), got %s; readiness would flap between refreshes",
			iv, 1+c.Refresh.JitterFraction(), c.Refresh.ReadTimeoutOrDefault(), least, s)
	}
}

// validateInlineValues refuses, in production, a template whose literal text holds a
// password (scheme://user:password@host): a secret belongs in a backend, not in the config.
func (c *Config) validateInlineValues(p *Problems) {
	if !c.IsProduction() || c.Hygiene.AllowInlineValues {
		return
	}
	for i, s := range c.Secrets {
		if s.Template == "" {
			continue
		}
		t, err := tmpl.Parse(s.Env, s.Template)
		if err != nil {
			continue // reported by validateSecrets
		}
		if t.HasInlinePassword() {
			p.Add(fmt.Sprintf("secrets[%d].template", i), "holds a literal password in a URL; take it from a backend with {{ secret \"backend:path\" }} (or set hygiene.allow_inline_values)")
		}
	}
}

// validateExpandLists checks keys and expand_allow, which only an expand entry takes.
func (c *Config) validateExpandLists(p *Problems, path string, s Secret) {
	if len(s.Keys) > 0 && !s.Expand {
		p.Add(path+".keys", "keys applies only with expand: true (use ref: backend:path#key for one key)")
	}
	if len(s.ExpandAllow) > 0 && !s.Expand {
		p.Add(path+".expand_allow", "expand_allow applies only with expand: true")
	}
	for j, k := range s.Keys {
		if k == "" {
			p.Add(fmt.Sprintf("%s.keys[%d]", path, j), "empty key")
		}
	}
	for j, name := range s.ExpandAllow {
		if !sinks.ValidName(name) {
			p.Add(fmt.Sprintf("%s.expand_allow[%d]", path, j), "%q is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)", name)
		}
	}
}
