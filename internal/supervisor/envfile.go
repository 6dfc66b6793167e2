package supervisor

import (
	"fmt"
	"strings"
)

// parseEnvFile reads what the sinks write, returning NAME=value pairs in file order (a
// later line for the same name wins). Two dialects, told apart per line:
//
//   - dotenv (sinks/dotenv.go): NAME='v' with \' and \\ unescaped; NAME="v" with \\ \" \n
//     \r (and \t) unescaped; NAME=v unquoted, trimmed, cut at a " #" comment. Quoted
//     values may span lines.
//   - shell (sinks/shell.go): export NAME='v', where the value is a run of single-quoted
//     pieces joined by \' (how the shell format writes a quote), read as sh reads it.
//
// Blank lines and # comments are skipped. Errors name a line, never a value.
func parseEnvFile(data []byte) ([]string, error) {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	var out []string
	index := map[string]int{}
	line := 0
	for len(s) > 0 {
		line++
		startLine := line
		var raw string
		raw, s = cutLine(s)
		t := strings.TrimLeft(raw, " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		shell := false
		if rest, ok := strings.CutPrefix(t, "export "); ok {
			shell, t = true, strings.TrimLeft(rest, " \t")
		}
		name, rest, ok := strings.Cut(t, "=")
		name = strings.TrimRight(name, " \t")
		if !ok || !validName(name) {
			return nil, fmt.Errorf("line %d: not a NAME=value assignment", startLine)
		}
		if !shell {
			rest = strings.TrimLeft(rest, " \t")
		}
		// A quoted value may go on over the following lines: hand the rest of the file in.
		full := rest + "\n" + s
		var val string
		var used int
		var err error
		if shell {
			val, used, err = shellWord(full)
		} else {
			val, used, err = dotenvValue(full)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", startLine, name, err)
		}
		tail, remaining := cutLine(full[used:])
		if tt := strings.TrimSpace(tail); tt != "" && !strings.HasPrefix(tt, "#") {
			return nil, fmt.Errorf("line %d: %s: unexpected text after the value", startLine, name)
		}
		line += strings.Count(full[:used], "\n")
		s = remaining
		kv := name + "=" + val
		if i, dup := index[name]; dup {
			out[i] = kv
		} else {
			index[name] = len(out)
			out = append(out, kv)
		}
	}
	return out, nil
}

// dotenvValue decodes the value at the start of s and returns how many bytes it used.
func dotenvValue(s string) (string, int, error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		line, _ := cutLine(s)
		v := line
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		return strings.TrimSpace(v), len(line), nil
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s):
			if r, ok := dotenvEscape(q, s[i+1]); ok {
				b.WriteByte(r)
				i++
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated quote")
}

func dotenvEscape(quote, c byte) (byte, bool) {
	if quote == '\'' {
		return c, c == '\'' || c == '\\'
	}
	switch c {
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case '"', '\\':
		return c, true
	}
	return 0, false
}

// shellWord decodes a POSIX shell word made of 'single-quoted' pieces, \x escapes and
// plain characters without expansion characters, up to unquoted white space.
func shellWord(s string) (string, int, error) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ';':
			return b.String(), i, nil
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", 0, fmt.Errorf("unterminated quote")
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '\\' && i+1 < len(s):
			if s[i+1] != '\n' { // backslash-newline is a line continuation
				b.WriteByte(s[i+1])
			}
			i += 2
		case strings.IndexByte("$`\"|&<>(){}*?[", c) >= 0:
			return "", 0, fmt.Errorf("shell syntax this reader does not evaluate (only the single quotes the shell format writes)")
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i, nil
}

func cutLine(s string) (line, rest string) {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// validName accepts what an environment variable name can be in practice.
func validName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			return false
		}
	}
	return s != ""
}
