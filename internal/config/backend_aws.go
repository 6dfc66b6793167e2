package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/tmpl"
)

// AWSBackend reads AWS Secrets Manager and SSM Parameter Store with credentials from the
// SDK's default chain (environment, shared config and profile, web identity/IRSA, ECS
// container credentials, instance metadata).
type AWSBackend struct {
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

var (
	awsRegionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	awsRoleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
)

func (b *AWSBackend) validate(path string, c *Config, p *Problems) {
	if b.Region != "" && !awsRegionRE.MatchString(b.Region) {
		p.Add(path+".region", "%q is not an AWS region (e.g. eu-west-1)", b.Region)
	}
	if b.Endpoint != "" {
		u, err := url.Parse(b.Endpoint)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			p.Add(path+".endpoint", "%q is not an http(s) URL", b.Endpoint)
		case c.IsProduction() && u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
			p.Add(path+".endpoint", "plain http to %s in production would send credentials and secrets in clear; use https", u.Host)
		}
	}
	if b.RoleARN != "" && !awsRoleARNRE.MatchString(b.RoleARN) {
		p.Add(path+".role_arn", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", b.RoleARN)
	}
	if strings.TrimSpace(b.Profile) != b.Profile {
		p.Add(path+".profile", "%q has leading or trailing spaces", b.Profile)
	}
	b.validateRefs(strings.TrimPrefix(path, "backends."), c, p)
}

// validateRefs checks the forms of the refs (in ref and in templates) that name this
// backend, so that check reports them before anything reaches AWS.
func (b *AWSBackend) validateRefs(name string, c *Config, p *Problems) {
	for i, s := range c.Secrets {
		if r, err := fetcher.ParseRef(s.Ref); s.Ref != "" && err == nil && r.Backend == name {
			checkAWSRef(p, fmt.Sprintf("secrets[%d].ref", i), r, s.Expand)
		}
		if s.Template == "" {
			continue
		}
		if t, err := tmpl.Parse(s.Env, s.Template); err == nil {
			for _, r := range t.Refs() {
				if r.Backend == name {
					checkAWSRef(p, fmt.Sprintf("secrets[%d].template", i), r, false)
				}
			}
		}
	}
}

func checkAWSRef(p *Problems, at string, r fetcher.Ref, expand bool) {
	ssm, isSSM := strings.CutPrefix(r.Path, "ssm:")
	isPath := strings.HasSuffix(ssm, "/")
	switch {
	case !isSSM:
		if strings.HasPrefix(r.Path, "arn:") && !strings.HasPrefix(r.Path, "arn:aws") {
			p.Add(at, "%s: %q is not a Secrets Manager ARN", r, r.Path)
		}
	case ssm == "":
		p.Add(at, "%s: empty SSM parameter name after ssm:", r)
	case isPath && !strings.HasPrefix(ssm, "/"):
		p.Add(at, "%s: an SSM path starts with '/'", r)
	case isPath && r.Version != "":
		p.Add(at, "%s: an SSM path reads the latest version of each parameter; drop @%s", r, r.Version)
	case isPath && r.Key == "" && !expand:
		p.Add(at, "%s: an SSM path holds several parameters: use expand: true, or name one with #NAME", r)
	case !isPath && strings.Contains(ssm, ":") && !strings.HasPrefix(ssm, "arn:"):
		p.Add(at, "%s: give an SSM version or label as @VERSION, not with ':'", r)
	}
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
