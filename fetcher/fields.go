package fetcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// ErrNoFields means a secret has no named fields (it is not a JSON object), so #key or
// expand cannot apply to it.
var ErrNoFields = errors.New("secret is not a JSON object (no fields to select)")

// Field returns the field key of s. A key s lacks is ErrMissingKey, not ErrNotFound: the
// secret was found.
func (s Secret) Field(key string) (Value, error) {
	if s.Data == nil {
		return Value{}, ErrNoFields
	}
	v, ok := s.Data[key]
	if !ok {
		return Value{}, fmt.Errorf("%w %q in the secret (keys present: %s)", ErrMissingKey, key, s.keyList())
	}
	return v, nil
}

// Whole returns the secret's whole value, or an error naming its fields when it only has fields.
func (s Secret) Whole() (Value, error) {
	if s.Value.IsSet() {
		return s.Value, nil
	}
	if s.Data != nil {
		return Value{}, fmt.Errorf("secret has several keys (%s): name one with #key or use expand", s.keyList())
	}
	return Value{}, ErrNotFound
}

// Keys returns the field names in sorted order. Key names are not secret.
func (s Secret) Keys() []string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s Secret) keyList() string {
	keys := s.Keys()
	if len(keys) > 20 {
		keys = append(keys[:20], "…")
	}
	b, _ := json.Marshal(keys)
	return string(b)
}

// ParseJSONObject returns the fields of b when b is a JSON object, or nil, nil when b is
// not one (a plain string secret). String fields are taken as they are; numbers and booleans
// as their JSON text; nested objects and arrays as their compact JSON. Errors never quote b.
func ParseJSONObject(b []byte) (map[string]Value, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(t, &raw); err != nil {
		return nil, nil // looks like JSON but is not: treat as a plain value
	}
	out := make(map[string]Value, len(raw))
	for k, m := range raw {
		switch {
		case len(m) > 0 && m[0] == '"':
			var s string
			if err := json.Unmarshal(m, &s); err != nil {
				return nil, fmt.Errorf("field %q: invalid JSON string", k)
			}
			out[k] = StringValue(s)
		case string(m) == "null":
			out[k] = StringValue("")
		default:
			var c bytes.Buffer
			if err := json.Compact(&c, m); err != nil {
				return nil, fmt.Errorf("field %q: invalid JSON", k)
			}
			out[k] = NewValue(c.Bytes())
		}
	}
	return out, nil
}
