package file

import (
	"strings"

	"github.com/patas/patas-secrets/fetcher"
)

// parseDotenv reads an arbitrary .env file (one a developer wrote, not our own output,
// which sinks.ReadEnvFile reads) and is meant to stay compatible with python-dotenv 1.x,
// the reader PATAS itself uses, so that a key means the same to both. Like python-dotenv it
// takes keys with '.' and '-' and decodes \' inside double quotes; unlike it, it does no
// interpolation (below) and refuses a file with a line that is not an assignment.
//
// It reads KEY=VALUE lines the way python-dotenv does, minus interpolation: a
// value is taken literally, never expanded from other keys or from this process's
// environment (which would be a way for one secret to leak into another). It returns nil
// when any non-blank, non-comment line is not an assignment: the file is then a plain
// secret, not a dotenv file.
//
// Accepted: optional "export ", whitespace around '=', 'single' quotes (\\ and \' decoded),
// "double" quotes (\n \r \t \a \b \f \v \' \" \\ decoded), multi-line quoted values,
// unquoted values with a " #" comment removed. TestDotenvMatchesPythonDotenv holds it to
// python-dotenv itself.
func parseDotenv(data []byte) map[string]fetcher.Value {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	out := map[string]fetcher.Value{}
	for len(s) > 0 {
		var line string
		line, s = cutLine(s)
		// Only the left: trailing white space may belong to a quoted value that goes on
		// to the next line.
		t := strings.TrimLeft(line, " \t")
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		name, rest, ok := strings.Cut(t, "=")
		name = strings.TrimSpace(name)
		if !ok || !validKey(name) {
			return nil
		}
		rest = strings.TrimLeft(rest, " \t")
		var val string
		if len(rest) > 0 && (rest[0] == '\'' || rest[0] == '"') {
			// A quoted value may continue on the following lines.
			full := rest + "\n" + s
			v, used, ok := unquote(full)
			if !ok {
				return nil
			}
			val = v
			after := full[used:]
			tail, remaining := cutLine(after)
			if tt := strings.TrimSpace(tail); tt != "" && !strings.HasPrefix(tt, "#") {
				return nil
			}
			s = remaining
		} else {
			if i := strings.Index(rest, " #"); i >= 0 {
				rest = rest[:i]
			}
			val = strings.TrimSpace(rest)
		}
		out[name] = fetcher.StringValue(val)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func cutLine(s string) (line, rest string) {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// unquote decodes the quoted value at the start of s and returns it with the number of
// bytes it used.
func unquote(s string) (string, int, bool) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, true
		case c == '\\' && i+1 < len(s):
			n := s[i+1]
			if r, ok := escape(q, n); ok {
				b.WriteByte(r)
				i++
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

func escape(quote, c byte) (byte, bool) {
	if quote == '\'' {
		if c == '\'' || c == '\\' {
			return c, true
		}
		return 0, false
	}
	// python-dotenv's escapes in double quotes: \\ \' \" \a \b \f \n \r \t \v.
	switch c {
	case 'a':
		return '\a', true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'v':
		return '\v', true
	case '"', '\\', '\'':
		return c, true
	}
	return 0, false
}

func validKey(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			return false
		}
	}
	return s != ""
}
