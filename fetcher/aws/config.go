package aws

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
)

// Type registers the aws backend: `type: aws` in a backends entry.
var Type = registry.Type{Name: "aws", New: func() registry.Settings { return &Settings{} }}

// Settings of an aws backend: Secrets Manager and SSM Parameter Store with credentials
// from the SDK's default chain (environment, shared config and profile, web identity/IRSA,
// ECS container credentials, instance metadata).
type Settings struct {
	Type string `yaml:"type"`
	// Region, else AWS_REGION or the profile's region.
	Region string `yaml:"region"`
	// Endpoint replaces the AWS endpoint of Secrets Manager, SSM and STS alike (an emulator
	// such as moto); else the SDK's own AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
	Endpoint string `yaml:"endpoint"`
	// Profile names a profile of the shared config files (~/.aws/config).
	Profile string `yaml:"profile"`
	// RoleARN, when set, is assumed with STS using the default chain's credentials.
	RoleARN string `yaml:"role_arn"`
}

// Compiled on first use in Validate, not at every start of every command.
var (
	regionRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`) })
	roleARNRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	})
)

// Validate implements registry.Settings.
func (s *Settings) Validate(env registry.Env, p *registry.Problems) {
	if s.Region != "" && !regionRE().MatchString(s.Region) {
		p.Add("region", "%q is not an AWS region (e.g. eu-west-1)", s.Region)
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			p.Add("endpoint", "%q is not an http(s) URL", s.Endpoint)
		case env.Production && u.Scheme == "http" && !registry.LoopbackHost(u.Hostname()):
			p.Add("endpoint", "plain http to %s in production would send credentials and secrets in clear; use https", u.Host)
		}
	}
	if s.RoleARN != "" && !roleARNRE().MatchString(s.RoleARN) {
		p.Add("role_arn", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", s.RoleARN)
	}
	if strings.TrimSpace(s.Profile) != s.Profile {
		p.Add("profile", "%q has leading or trailing spaces", s.Profile)
	}
}

// CheckRef implements registry.Settings with the parse Fetch uses, plus the one rule that
// depends on the entry: an SSM path holds several parameters, so it needs expand or a key.
func (s *Settings) CheckRef(_ registry.Env, r fetcher.Ref, use registry.Use) error {
	t, err := parseTarget(r)
	if err == nil && t.kind == pathKind && r.Key == "" && !use.Expand {
		err = errPathNeedsExpand
	}
	return err
}

// Open implements registry.Settings.
func (s *Settings) Open(ctx context.Context, env registry.Env) (fetcher.Backend, error) {
	return New(ctx, Options{Region: s.Region, Endpoint: s.Endpoint, Profile: s.Profile, RoleARN: s.RoleARN}, env.Log)
}
