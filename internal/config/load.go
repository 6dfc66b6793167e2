package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/patas/patas-secrets/fetcher/registry"
)

// Load reads, strictly decodes and validates the config file at path; backends holds the
// backend types of this build. On failure the error is a Problems listing every problem
// found (decode and validation together).
func Load(path string, backends *registry.Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return Parse(data, dir, backends)
}

// Parse decodes data strictly (an unknown field is an error), applies defaults and
// validates. Relative paths are taken relative to dir. Each backend entry is decoded into
// the settings of its type in backends.
func Parse(data []byte, dir string, backends *registry.Registry) (*Config, error) {
	if backends == nil {
		backends = registry.New(nil, nil)
	}
	var c Config
	var probs Problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// A syntax error: nothing else can be trusted.
			return nil, append(probs, Problem{Msg: "YAML: " + err.Error()})
		}
		for _, e := range te.Errors {
			probs.Add("", friendlyYAML(e))
		}
	}
	c.decodeBackends(backends, &probs)
	c.Dir = dir
	c.applyDefaults()
	probs = append(probs, c.Validate()...)
	if len(probs) > 0 {
		return &c, probs
	}
	return &c, nil
}

// friendlyYAML replaces Go type names in yaml.v3's messages with the config's own words.
func friendlyYAML(msg string) string {
	r := strings.NewReplacer(
		"in type config.Config", "at the top level",
		"in type config.Secret", "in a secrets entry",
		"in type config.Output", "in an outputs entry",
		"in type config.Refresh", "in refresh",
		"in type config.Retry", "in refresh.retry",
		"in type config.Validation", "in validate",
		"in type config.Hygiene", "in hygiene",
		"in type config.NotifyConfig", "in notify",
		"in type config.NotifySignal", "in notify.signal",
		"in type config.NotifyCommand", "in notify.command",
		"in type config.NotifyHTTP", "in notify.http",
		"not found", "is not a known field (check its spelling and indentation)",
	)
	return r.Replace(msg)
}

func (c *Config) applyDefaults() {
	if c.Environment == "" {
		c.Environment = os.Getenv("ENVIRONMENT")
	}
	if c.Environment == "" {
		c.Environment = "development"
	}
	if c.Refresh.Interval == 0 {
		c.Refresh.Interval = Duration(DefaultInterval)
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Hygiene.MaxAge == 0 {
		c.Hygiene.MaxAge = Duration(DefaultMaxAge)
	}
	if c.Refresh.MaxStaleness == 0 {
		// 1h, or room for two refresh cycles when the interval is long.
		iv := time.Duration(c.Refresh.Interval)
		c.Refresh.MaxStaleness = Duration(max(DefaultMaxStaleness, 2*time.Duration(float64(iv)*(1+c.Refresh.JitterFraction()))+c.Refresh.ReadTimeoutOrDefault()))
	}
}

// Abs resolves p relative to the config file's directory.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}
