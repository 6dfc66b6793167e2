package sinks

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// encodeDotenv writes one NAME=<value> line per variable that two readers read back
// exactly: python-dotenv 1.2 (so pydantic-settings, which PATAS uses), with its ${VAR}
// interpolation on as by default, and Compose's env_file parser
// (github.com/compose-spec/compose-go/v2/dotenv). Their rules, verified by experiment and
// by reading their sources, and what follows from them:
//
//   - python-dotenv substitutes ${NAME} and ${NAME:-default} in every value, single-quoted
//     ones included, after unescaping, and has no escape for it. A value that contains such
//     a pattern cannot be written for python-dotenv at all: refused.
//   - python-dotenv reads the file as UTF-8 text with universal newlines (a raw CR becomes
//     LF); an environment variable cannot hold NUL. Invalid UTF-8 and NUL are refused.
//   - Single quotes: Compose drops a backslash only before a quote; python-dotenv also turns
//     \\ into \. Both keep every other byte, newlines included, and expand nothing. So a value
//     goes in single quotes, each ' written \', when it has no CR and no backslash that is
//     followed by a backslash, a quote or the end of the value. This is the usual form.
//   - Double quotes: both unescape \\ \" \n \r (our only escapes; every backslash is doubled,
//     CR and LF are written \r and \n). Compose then expands $$, $NAME and ${…}, so the form
//     needs no $ followed by $, {, a letter or _. A final backslash is excluded too: python-
//     dotenv would take the \" of \\" as an escaped quote and read on to the next quote.
//   - Unquoted: both read to the end of the line and trim white space at both ends; python-
//     dotenv cuts a comment at white space before #, Compose at " #"; Compose expands $ as
//     above. The form needs one line, no leading quote, no white space at either end or
//     before a #, and the same $ rule. It carries what the quoted forms cannot: a final
//     backslash (C:\dir\).
//
// The first form that fits is written, in that order. A value that fits none is refused
// with the reasons each form could not take it: in practice a $ before a name, { or $
// (single quotes only) together with a CR, a doubled backslash, a backslash before a quote
// or a final backslash (not single quotes).
func encodeDotenv(s Snapshot) ([]byte, error) {
	if err := checkNames("dotenv", s); err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, v := range s.Vars {
		enc, why := dotenvValue(string(v.Value.Reveal()))
		if why != "" {
			return nil, &RefuseError{Format: "dotenv", Var: v.Name, Reason: why}
		}
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(enc)
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// pyInterpolation is python-dotenv's own pattern (dotenv/variables.py, _posix_variable).
var pyInterpolation = regexp.MustCompile(`\$\{[^}:]*(?::-[^}]*)?\}`)

// dotenvValue returns the encoded value, or why it cannot be encoded.
func dotenvValue(v string) (enc, why string) {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return "", "contains a NUL byte, which no environment variable can hold"
	case !utf8.ValidString(v):
		return "", "is not valid UTF-8 (python-dotenv reads the file as UTF-8)"
	case pyInterpolation.MatchString(v):
		return "", "contains ${…}, which python-dotenv substitutes in every quoting style and has no escape for"
	}
	single, double, bare := dotenvSingleWhy(v), dotenvDoubleWhy(v), dotenvBareWhy(v)
	switch {
	case single == "":
		return dotenvSingle(v), ""
	case double == "":
		return dotenvDouble(v), ""
	case bare == "":
		return v, ""
	}
	return "", "python-dotenv and Compose read it differently in every form: single quotes cannot hold " +
		single + "; double quotes cannot hold " + double + "; unquoted cannot hold " + bare
}

func dotenvSingleWhy(v string) string {
	if strings.IndexByte(v, '\r') >= 0 {
		return "a carriage return (python-dotenv reads it as a newline)"
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && (i+1 == len(v) || v[i+1] == '\\' || v[i+1] == '\'') {
			return `a backslash before a backslash, a quote or the end (python-dotenv and Compose unescape it differently)`
		}
	}
	return ""
}

func dotenvDoubleWhy(v string) string {
	if composeExpands(v) {
		return "a $ before $, { or a name (Compose expands it, python-dotenv does not)"
	}
	if strings.HasSuffix(v, `\`) {
		return "a final backslash (python-dotenv reads past the closing quote)"
	}
	return ""
}

func dotenvBareWhy(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		return "a line break"
	}
	first, _ := utf8.DecodeRuneInString(v)
	last, _ := utf8.DecodeLastRuneInString(v)
	if v != "" && (first == '\'' || first == '"' || dotenvSpace(first) || dotenvSpace(last)) {
		return "a leading quote or white space at either end"
	}
	prevSpace := false
	for _, r := range v {
		if r == '#' && prevSpace {
			return "white space before # (a comment)"
		}
		prevSpace = dotenvSpace(r)
	}
	if composeExpands(v) {
		return "a $ before $, { or a name (Compose expands it)"
	}
	return ""
}

// dotenvSpace is white space for either reader: Go's unicode.IsSpace (Compose) or
// Python's str.isspace, which adds the separators U+001C to U+001F.
func dotenvSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// composeExpands reports whether Compose's template package would act on a $ in v: it
// matches $ followed by $, {, or a name start ([_a-z], case-insensitive); any other $ stays.
func composeExpands(v string) bool {
	for i := 0; i+1 < len(v); i++ {
		if v[i] != '$' {
			continue
		}
		switch c := v[i+1]; {
		case c == '$', c == '{', c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			return true
		}
	}
	return false
}

func dotenvSingle(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
}

var dotenvDoubleEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", `\r`, "\n", `\n`)

func dotenvDouble(v string) string { return `"` + dotenvDoubleEscaper.Replace(v) + `"` }
