package sinks

import (
	"fmt"
	"strings"
)

// ReadEnvFile reads what the dotenv and shell sinks write, returning NAME=value pairs in
// file order (a later line for the same name wins): exec reads the env file with it. It
// lives beside the writers so the two cannot drift; the round-trip tests write every kind
// of value through each writer and read it back. (fetcher/file reads arbitrary .env files
// instead, the way python-dotenv does.) Two dialects, told apart per line:
//
//   - dotenv (dotenv.go): NAME='v' with \' and \\ unescaped; NAME="v" with \\ \" \n
//     \r (and \t) unescaped; NAME=v unquoted, trimmed, cut at a " #" comment. Quoted
//     values may span lines.
//   - shell (shell.go): export NAME='v', where the value is a run of single-quoted
//     pieces joined by \' (how the shell format writes a quote), read as sh reads it.
//
// Blank lines and # comments are skipped. Errors name a line, never a value.
func ReadEnvFile(data []byte) ([]string, error) {
	// CRLF line ends are read as LF, but not by a blanket replace: the shell format keeps a
	// value's own CR LF inside single quotes.
	s := string(data)
	var out []string
	index := map[string]int{}
	line := 0
	for len(s) > 0 {
		line++
		startLine := line
		var raw string
		raw, s = cutLine(s)
		t := strings.TrimLeft(raw, " \t")
		if strings.TrimSpace(t) == "" || t[0] == '#' {
			continue
		}
		shell := false
		if rest, ok := strings.CutPrefix(t, "export "); ok {
			shell, t = true, strings.TrimLeft(rest, " \t")
		}
		name, rest, ok := strings.Cut(t, "=")
		name = strings.TrimRight(name, " \t")
		if !ok || !ValidName(name) {
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
			val, used, err = readShellWord(full)
		} else {
			val, used, err = readDotenvValue(full)
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

// readDotenvValue decodes the value at the start of s and returns how many bytes it used.
func readDotenvValue(s string) (string, int, error) {
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
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// A raw CR LF: python-dotenv reads universal newlines (the writer escapes a CR).
		case c == '\\' && i+1 < len(s):
			if r, ok := readDotenvEscape(q, s[i+1]); ok {
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

func readDotenvEscape(quote, c byte) (byte, bool) {
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
	case '"', '\\', '\'':
		return c, true // \' as python-dotenv reads it; the writer never writes it
	}
	return 0, false
}

// readShellWord decodes a POSIX shell word made of 'single-quoted' pieces, \x escapes and
// plain characters without expansion characters, up to unquoted white space.
func readShellWord(s string) (string, int, error) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '\r' && i+1 < len(s) && s[i+1] == '\n':
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
