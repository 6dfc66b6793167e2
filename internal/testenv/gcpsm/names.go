package gcpsm

import (
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// secretIDRE is the documented form of a secret id: letters, digits, '-' and '_', at most 255.
var secretIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// parent is projects/P or projects/P/locations/L.
type parent struct {
	project  string // as written in the request: an id or a number
	location string // "" for a global secret
}

// secretName is a parent plus a secret id.
type secretName struct {
	parent
	secret string
}

// versionName is a secret plus a version id ("1", "2", … or "latest").
type versionName struct {
	secretName
	version string
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

func parseParent(s string) (parent, error) {
	p := strings.Split(s, "/")
	switch {
	case len(p) == 2 && p[0] == "projects" && p[1] != "":
		return parent{project: p[1]}, nil
	case len(p) == 4 && p[0] == "projects" && p[1] != "" && p[2] == "locations" && p[3] != "":
		return parent{project: p[1], location: p[3]}, nil
	}
	return parent{}, invalid("The provided parent [%s] is invalid: want projects/*  or projects/*/locations/*.", s)
}

func parseSecretName(s string) (secretName, error) {
	i := strings.LastIndex(s, "/secrets/")
	if i < 0 {
		return secretName{}, invalid("The provided Secret name [%s] is invalid: want projects/*/secrets/* or projects/*/locations/*/secrets/*.", s)
	}
	p, err := parseParent(s[:i])
	id := s[i+len("/secrets/"):]
	if err != nil || !secretIDRE.MatchString(id) {
		return secretName{}, invalid("The provided Secret name [%s] is invalid: want projects/*/secrets/* or projects/*/locations/*/secrets/*.", s)
	}
	return secretName{parent: p, secret: id}, nil
}

func parseVersionName(s string) (versionName, error) {
	i := strings.LastIndex(s, "/versions/")
	if i < 0 {
		return versionName{}, invalid("The provided Secret Version name [%s] is invalid: want projects/*/secrets/*/versions/*.", s)
	}
	sn, err := parseSecretName(s[:i])
	v := s[i+len("/versions/"):]
	if err != nil || v == "" || strings.Contains(v, "/") {
		return versionName{}, invalid("The provided Secret Version name [%s] is invalid: want projects/*/secrets/*/versions/*.", s)
	}
	return versionName{secretName: sn, version: v}, nil
}

// path prints p with the given project spelling.
func (p parent) path(project string) string {
	if p.location == "" {
		return "projects/" + project
	}
	return "projects/" + project + "/locations/" + p.location
}

func (n secretName) path(project string) string {
	return n.parent.path(project) + "/secrets/" + n.secret
}

func versionPath(n secretName, project string, v int) string {
	return n.path(project) + "/versions/" + strconv.Itoa(v)
}

// isNumber reports whether a project segment is a project number (project ids start with a letter).
func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
