package sinks

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// encodeJSON writes one JSON object, {"NAME": "value", …}, one member a line, in snapshot
// order, ending with a newline (RFC 8259; encoding/json, Python's json and jq read it).
//
// Rules: a JSON string holds any Unicode text; encoding/json escapes ", \ and control
// characters (NUL included, as \u0000), and U+2028/U+2029; <, > and & are left as they are.
// A value that is not valid UTF-8 is refused: JSON has no way to carry those bytes, and
// encoding/json would silently replace them with U+FFFD. Use the files format for binary
// values.
func encodeJSON(s Snapshot) ([]byte, error) {
	if err := checkNames("json", s); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, v := range s.Vars {
		value := string(v.Value.Reveal())
		if !utf8.ValidString(value) {
			return nil, &RefuseError{Format: "json", Var: v.Name, Reason: "is not valid UTF-8, which a JSON string cannot carry"}
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		_ = enc.Encode(v.Name) // a string always encodes; Encode appends a newline
		b.Truncate(b.Len() - 1)
		b.WriteString(": ")
		_ = enc.Encode(value)
		b.Truncate(b.Len() - 1)
	}
	if len(s.Vars) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}
