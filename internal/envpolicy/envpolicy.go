// Package envpolicy says which environment variable names an application must never take
// from a secret store. Key names come from backends (an expand entry turns every key of a
// secret into a variable) and from a shared volume (exec reads the env file), so whoever
// can write one key could otherwise set LD_PRELOAD, PATH or PYTHONSTARTUP and run code in
// the application. This is a policy on meaning; the syntax of a name is checked elsewhere.
package envpolicy

import (
	"slices"
	"strings"
)

// deniedNames are refused exactly (compared upper-cased).
var deniedNames = []string{
	// shells
	"PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "PS4", "CDPATH", "SHELLOPTS", "BASHOPTS", "PROMPT_COMMAND",
	// the C library: character sets, resolver, time zones, tunables, locales
	"GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", "TZDIR", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH",
	// interpreters and runtimes that load code named in a variable
	"NODE_OPTIONS", "NODE_PATH", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB",
	"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
}

// deniedPrefixes are refused as prefixes (compared upper-cased).
var deniedPrefixes = []string{
	"LD_",       // the dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT…
	"DYLD_",     // the same on macOS
	"PYTHON",    // PYTHONPATH, PYTHONSTARTUP, PYTHONHOME…
	"SSL_CERT_", // SSL_CERT_FILE, SSL_CERT_DIR: whom TLS trusts
}

// Denied reports whether name is one a secret store must never set. Case is ignored: a
// lower-case ld_preload does nothing on Linux, but no secret needs that name either.
func Denied(name string) bool {
	u := strings.ToUpper(name)
	if slices.Contains(deniedNames, u) {
		return true
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// Allowed reports whether name may be taken from a secret store, given the names the
// operator allowed explicitly (exact match).
func Allowed(name string, allow []string) bool {
	return !Denied(name) || slices.Contains(allow, name)
}

// Describe is the reason given in errors: what the denylist is, never a value.
const Describe = "a loader, interpreter or shell variable an application must never take from a secret store"
