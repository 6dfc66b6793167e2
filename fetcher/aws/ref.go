package aws

import (
	"errors"
	"fmt"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
)

// kind is what a ref's path names.
type kind int

const (
	secretKind    kind = iota // a Secrets Manager secret: NAME_OR_ARN
	parameterKind             // one SSM parameter: ssm:/path/name
	pathKind                  // every SSM parameter under a path: ssm:/path/
)

// ssmPrefix starts the path of an SSM ref. Secrets Manager names cannot contain ':' (ARNs
// start with "arn:"), so the prefix is never ambiguous.
const ssmPrefix = "ssm:"

// stagePrefix marks a version that is a staging label rather than a version id: AWS
// reserves labels starting with AWS (AWSCURRENT, AWSPREVIOUS, AWSPENDING).
const stagePrefix = "AWS"

// target is a ref resolved to one AWS read.
type target struct {
	kind kind
	// id is the secret name or ARN, the parameter name, or the path without its final '/'
	// (but "/" for the root).
	id string
	// versionID pins a Secrets Manager version; stage selects one by label. At most one is set.
	versionID, stage string
	// selector is an SSM version or label, as in name:selector.
	selector string
}

// errPathNeedsExpand: a ref to an SSM path without a key reads several variables.
var errPathNeedsExpand = errors.New("an SSM path holds several parameters: use expand: true, or name one with #NAME")

// parseTarget resolves the path and version of r (its key is the engine's business). It is
// the one parse of an aws ref: config checks refs with it too. Its errors do not repeat r.
func parseTarget(r fetcher.Ref) (target, error) {
	if name, ok := strings.CutPrefix(r.Path, ssmPrefix); ok {
		return parseSSM(r, name)
	}
	if strings.HasPrefix(r.Path, "arn:") && !strings.HasPrefix(r.Path, "arn:aws") {
		return target{}, fmt.Errorf("%q is not a Secrets Manager ARN", r.Path)
	}
	t := target{kind: secretKind, id: r.Path}
	switch {
	case r.Version == "":
	case strings.HasPrefix(r.Version, stagePrefix):
		t.stage = r.Version
	default:
		t.versionID = r.Version
	}
	if t.stage == "AWSCURRENT" {
		t.stage = "" // what an unversioned read returns; lets it join the batch
	}
	return t, nil
}

func parseSSM(r fetcher.Ref, name string) (target, error) {
	if name == "" {
		return target{}, fmt.Errorf("empty SSM parameter name after %q", ssmPrefix)
	}
	if strings.HasSuffix(name, "/") {
		if !strings.HasPrefix(name, "/") {
			return target{}, errors.New("an SSM path starts with '/'")
		}
		if r.Version != "" {
			return target{}, fmt.Errorf("an SSM path reads the latest version of every parameter under it; drop @%s", r.Version)
		}
		id := strings.TrimSuffix(name, "/")
		if id == "" {
			id = "/"
		}
		return target{kind: pathKind, id: id}, nil
	}
	if strings.Contains(name, ":") && !strings.HasPrefix(name, "arn:") {
		return target{}, errors.New("give an SSM version or label as @VERSION, not with ':'")
	}
	return target{kind: parameterKind, id: name, selector: r.Version}, nil
}

// ssmName is the name GetParameters is asked for: name or name:selector.
func (t target) ssmName() string {
	if t.selector == "" {
		return t.id
	}
	return t.id + ":" + t.selector
}

// batchable reports whether t can go into BatchGetSecretValue, which reads AWSCURRENT only.
func (t target) batchable() bool {
	return t.kind == secretKind && t.versionID == "" && t.stage == ""
}

// describe names t in errors and logs.
func (t target) describe() string {
	switch t.kind {
	case parameterKind:
		return fmt.Sprintf("SSM parameter %q", t.ssmName())
	case pathKind:
		return fmt.Sprintf("SSM path %q", t.id)
	}
	switch {
	case t.versionID != "":
		return fmt.Sprintf("secret %q version %s", t.id, t.versionID)
	case t.stage != "":
		return fmt.Sprintf("secret %q stage %s", t.id, t.stage)
	}
	return fmt.Sprintf("secret %q", t.id)
}
