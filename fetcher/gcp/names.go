package gcp

import (
	"fmt"
	"strings"

	"github.com/patas/patas-secrets/fetcher"
)

// The documented forms are checked by hand: as regular expressions, {1,255} and {1,63}
// compiled to ~300 KB of program at start-up, in every binary whatever its backends.
var (
	// secretIDRE is the documented form of a secret id: [A-Za-z0-9_-]{1,255}.
	secretIDRE = nameForm{max: 255}
	// versionRE accepts a version number, `latest` or a version alias: [A-Za-z0-9_-]{1,63}.
	versionRE = nameForm{max: 63}
)

// nameForm matches 1 to max characters from [A-Za-z0-9_-].
type nameForm struct{ max int }

func (f nameForm) MatchString(s string) bool {
	if len(s) == 0 || len(s) > f.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

const fullForms = "projects/P/secrets/S[/versions/V] or projects/P/locations/L/secrets/S[/versions/V]"

// resourceName turns a ref's path and version into the version resource name to access. It
// is the one parse of a gcp ref: config checks refs with it too. Its errors do not repeat
// the ref; they name the backend's entry (backends.NAME) where the fix goes.
//
//	NAME                                  -> projects/<project>[/locations/<location>]/secrets/NAME/versions/latest
//	NAME @3                               -> …/secrets/NAME/versions/3
//	projects/P/secrets/S[/versions/V]     -> itself (global secrets; backend without location)
//	projects/P/locations/L/secrets/S[/…]  -> itself (L must be the backend's location)
//
// A version in the path and a different @version in the ref is an error.
func resourceName(r fetcher.Ref, project, location string) (string, error) {
	path, refVersion, entry := r.Path, r.Version, "backends."+r.Backend
	if refVersion != "" && !versionRE.MatchString(refVersion) {
		return "", fmt.Errorf("version %q: want a number, latest or a version alias", refVersion)
	}
	if !strings.Contains(path, "/") {
		if !secretIDRE.MatchString(path) {
			return "", fmt.Errorf("secret id %q may hold only letters, digits, '-' and '_' (or write %s)", path, fullForms)
		}
		if project == "" {
			return "", fmt.Errorf("the short form needs project on %s (or write a full name %s)", entry, fullForms)
		}
		return versionName(secretPrefix(project, location)+path, refVersion), nil
	}
	seg := strings.Split(path, "/")
	var loc, id string
	switch {
	case len(seg) >= 4 && seg[0] == "projects" && seg[2] == "secrets":
		id = seg[3]
		seg = seg[4:]
	case len(seg) >= 6 && seg[0] == "projects" && seg[2] == "locations" && seg[4] == "secrets":
		loc, id = seg[3], seg[5]
		seg = seg[6:]
	default:
		return "", fmt.Errorf("path %q: want NAME, %s", path, fullForms)
	}
	if strings.Contains(path, "//") || !secretIDRE.MatchString(id) || (len(seg) != 0 && (len(seg) != 2 || seg[0] != "versions")) {
		return "", fmt.Errorf("path %q: want NAME, %s", path, fullForms)
	}
	switch {
	case loc != location && location == "":
		return "", fmt.Errorf("a regional secret in %s needs location: %s on %s (its regional endpoint serves it)", loc, loc, entry)
	case loc != location && loc == "":
		return "", fmt.Errorf("a global secret cannot be read through %s, which reads location %s through its regional endpoint: use a backend without location", entry, location)
	case loc != location:
		return "", fmt.Errorf("location %s differs from %s.location (%s)", loc, entry, location)
	}
	if len(seg) == 2 {
		if !versionRE.MatchString(seg[1]) {
			return "", fmt.Errorf("path %q: version %q: want a number, latest or a version alias", path, seg[1])
		}
		if refVersion != "" && refVersion != seg[1] {
			return "", fmt.Errorf("path %q names version %s and the ref @%s: keep one", path, seg[1], refVersion)
		}
		return path, nil
	}
	return versionName(path, refVersion), nil
}

func secretPrefix(project, location string) string {
	if location == "" {
		return "projects/" + project + "/secrets/"
	}
	return "projects/" + project + "/locations/" + location + "/secrets/"
}

func versionName(secret, version string) string {
	if version == "" {
		version = "latest"
	}
	return secret + "/versions/" + version
}

// versionID is the last segment of a version name ("…/versions/3" -> "3").
func versionID(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}
