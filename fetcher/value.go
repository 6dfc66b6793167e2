package fetcher

import (
	"fmt"
	"io"
)

// redacted is what a Value prints as, wherever it is printed.
const redacted = "[REDACTED]"

// Value holds secret bytes. It prints as [REDACTED] through fmt (every verb), JSON, text
// marshalling and zap; Reveal is the only way out. The bytes sit behind a pointer so that
// fmt, printing a struct with an unexported Value field, shows an address, not the bytes.
type Value struct{ b *[]byte }

// NewValue wraps b. The caller must not modify b afterwards.
func NewValue(b []byte) Value { return Value{b: &b} }

// StringValue wraps s.
func StringValue(s string) Value { return NewValue([]byte(s)) }

// Reveal returns the secret bytes. Every call site is a place a secret leaves the type; keep them few.
func (v Value) Reveal() []byte {
	if v.b == nil {
		return nil
	}
	return *v.b
}

// IsSet reports whether v holds a value (possibly empty), as opposed to the zero Value.
func (v Value) IsSet() bool { return v.b != nil }

// Len is the length of the secret in bytes; lengths are not secret here.
func (v Value) Len() int { return len(v.Reveal()) }

// Equal compares two values without revealing them to the caller.
func (v Value) Equal(o Value) bool {
	return v.IsSet() == o.IsSet() && string(v.Reveal()) == string(o.Reveal())
}

func (Value) String() string                    { return redacted }
func (Value) GoString() string                  { return redacted }
func (Value) MarshalText() ([]byte, error)      { return []byte(redacted), nil }
func (Value) MarshalJSON() ([]byte, error)      { return []byte(`"` + redacted + `"`), nil }
func (Value) Format(f fmt.State, _ rune)        { _, _ = io.WriteString(f, redacted) }
func (Value) MarshalYAML() (interface{}, error) { return redacted, nil }
