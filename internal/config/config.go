// Package config holds the YAML schema of patas-secrets, its strict decoder and Validate,
// which reports every problem at once, each with its path.
package config

import (
	"time"

	"github.com/patas/patas-secrets/internal/tmpl"
)

// Config is the whole file. It holds no secret: credentials come from each backend's own
// ecosystem (VAULT_TOKEN, the AWS chain, application default credentials, mounted files).
type Config struct {
	Environment string             `yaml:"environment"`
	Backends    map[string]Backend `yaml:"backends"`
	Secrets     []Secret           `yaml:"secrets"`
	Outputs     []Output           `yaml:"outputs"`
	Refresh     Refresh            `yaml:"refresh"`
	Notify      *NotifyConfig      `yaml:"notify"`
	Listen      string             `yaml:"listen"`
	Validation  Validation         `yaml:"validate"`
	Hygiene     Hygiene            `yaml:"hygiene"`
	// StateDir holds what the engine remembers between runs (overlap windows). Only the
	// sidecar may write it: never the shared output volume. Default: StateDirDefault().
	StateDir string `yaml:"state_dir"`

	// Dir is the directory of the config file; relative paths in it are relative to Dir.
	Dir string `yaml:"-"`
}

// Secret is one entry of secrets: a variable from a ref, a template, or an expanded object.
type Secret struct {
	Env      string `yaml:"env"`
	Ref      string `yaml:"ref"`
	Expand   bool   `yaml:"expand"`
	Prefix   string `yaml:"prefix"`
	Template string `yaml:"template"`
	Optional bool   `yaml:"optional"`
	Fallback string `yaml:"fallback"`
	// Hygiene false exempts the entry's variables from the hygiene value checks: for
	// settings (a provider name, a model) that are not secrets. Default true.
	Hygiene *bool `yaml:"hygiene"`
	// Overlap keeps the previous comma-separated items of a rotated list (API_KEYS) beside
	// the current ones for this long after a rotation.
	Overlap Duration `yaml:"overlap"`
	// Keys, on an expand entry, lists the keys of the secret to take; any other key is
	// ignored. A listed key that is missing is an error (unless optional).
	Keys []string `yaml:"keys"`
	// ExpandAllow, on an expand entry, lists variables the denylist of internal/envpolicy
	// (LD_*, PATH, PYTHON*…) would refuse but this entry may set all the same.
	ExpandAllow []string `yaml:"expand_allow"`
}

// refs returns the references the entry reads (its ref, or its template's secret calls).
func (s Secret) refs() []string {
	if s.Ref != "" {
		return []string{s.Ref}
	}
	t, err := tmpl.Parse(s.Env, s.Template)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range t.Refs() {
		out = append(out, r.String())
	}
	return out
}

// Name is how problems and logs refer to the entry: its variable, else its ref.
func (s Secret) Name() string {
	if s.Env != "" {
		return s.Env
	}
	return s.Ref
}

// Output is one file (or directory, for the files format) written on every change.
type Output struct {
	Format string `yaml:"format"`
	Path   string `yaml:"path"`
	Mode   *Mode  `yaml:"mode"`
	UID    *int   `yaml:"uid"`
	GID    *int   `yaml:"gid"`
	// Template is the template file of a template output (output_template.go).
	Template string `yaml:"template"`
	// Notify, when set, is told when this output changes, instead of the global notify
	// (output_extras.go). Backup keeps the previous content as PATH.bak.
	Notify *NotifyConfig `yaml:"notify"`
	Backup bool          `yaml:"backup"`
}

// Refresh says when run re-fetches.
type Refresh struct {
	Interval     Duration `yaml:"interval"`
	Jitter       *Percent `yaml:"jitter"`
	Watch        *bool    `yaml:"watch"`
	MaxStaleness Duration `yaml:"max_staleness"`
	// ReadTimeout bounds one backend read (or one batch) of a refresh (default 30s).
	ReadTimeout Duration `yaml:"read_timeout"`
	// Retry, OnFailure and Concurrency: retry.go.
	Retry       Retry  `yaml:"retry"`
	OnFailure   string `yaml:"on_failure"`
	Concurrency int    `yaml:"concurrency"`
}

// Validation lists checks on the final set of variables, run before anything is written.
type Validation struct {
	// Profile applies an application's own start-up rules; "patas" is the one there is.
	Profile string `yaml:"profile"`
	// LLMProvider tells the patas profile which provider PATAS uses ("openai" requires
	// LLM_API_KEY or OPENAI_API_KEY); default: the LLM_PROVIDER variable when one is fetched.
	LLMProvider string   `yaml:"llm_provider"`
	Required    []string `yaml:"required"`
}

// Hygiene sets the production checks on secret age and strength. They warn (log and
// metric); they never block a refresh.
type Hygiene struct {
	MaxAge Duration `yaml:"max_age"` // default 90d: the guide's rotation period
	// MinLength: shorter values are flagged too_short; 0 turns that check off. Default 16.
	MinLength *int `yaml:"min_length"`
	// AllowInlineValues lets a production template hold a literal password.
	AllowInlineValues bool `yaml:"allow_inline_values"`
}

// Defaults applied by Load when a field is absent.
const (
	DefaultInterval     = 5 * time.Minute
	DefaultJitter       = 0.10
	DefaultMaxStaleness = time.Hour
	DefaultListen       = "127.0.0.1:9102"
	DefaultMaxAge       = 90 * 24 * time.Hour
	DefaultMinLength    = 16
	DefaultReadTimeout  = 30 * time.Second
)

// ListenDisabled is the listen value that turns the health and metrics server off.
const ListenDisabled = "off"

// Environments are the values environment may take.
var Environments = []string{"development", "test", "staging", "production"}

// IsProduction reports whether strict production checks apply.
func (c *Config) IsProduction() bool { return c.Environment == "production" }

// WatchEnabled reports whether file watches trigger refreshes (default true).
func (r Refresh) WatchEnabled() bool { return r.Watch == nil || *r.Watch }

// JitterFraction is the jitter as a fraction of the interval.
func (r Refresh) JitterFraction() float64 {
	if r.Jitter == nil {
		return DefaultJitter
	}
	return float64(*r.Jitter)
}

// MinLengthOrDefault is hygiene.min_length, 16 when absent; 0 means the length check is off.
func (h Hygiene) MinLengthOrDefault() int {
	if h.MinLength == nil {
		return DefaultMinLength
	}
	return *h.MinLength
}

// ReadTimeoutOrDefault is refresh.read_timeout, 30s when absent.
func (r Refresh) ReadTimeoutOrDefault() time.Duration {
	if r.ReadTimeout <= 0 {
		return DefaultReadTimeout
	}
	return time.Duration(r.ReadTimeout)
}

// HygieneApplies reports whether the hygiene value checks apply to the entry's variables.
func (s Secret) HygieneApplies() bool { return s.Hygiene == nil || *s.Hygiene }
