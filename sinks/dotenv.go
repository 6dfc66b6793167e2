package sinks

import "strings"

// encodeDotenv writes NAME='value' lines for python-dotenv (and so pydantic-settings).
//
// Rules: every value is single-quoted, because python-dotenv does not interpolate ${VAR}
// inside single quotes; inside them it decodes exactly two escapes, \\ and \', so those are
// the two we write. Newlines are kept literally: a single-quoted value may span lines.
func encodeDotenv(s Snapshot) ([]byte, error) {
	var b strings.Builder
	for _, v := range s.Vars {
		if !ValidName(v.Name) {
			return nil, &RefuseError{Format: "dotenv", Var: v.Name, Reason: "not a valid variable name"}
		}
		b.WriteString(v.Name)
		b.WriteString("='")
		for _, c := range v.Value.Reveal() {
			if c == '\\' || c == '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteString("'\n")
	}
	return []byte(b.String()), nil
}
