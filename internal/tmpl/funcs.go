package tmpl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/template"
)

// Function errors name the function and the kind of problem, never an argument: an
// argument may be a secret.
var (
	errBase64   = errors.New("input is not valid standard base64 (RFC 4648, with padding)")
	errEnvUnset = errors.New("is not set (give a second argument as its default: {{ env \"NAME\" \"default\" }})")
)

// secretLikeEnv matches environment variable names that hold credentials. env refuses
// them: a secret belongs in a backend, where it is read, audited and refreshed, and the
// process environment of a sidecar is visible to anyone who can inspect it.
var secretLikeEnv = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|_KEY$|^KEY$)`)

// funcs are what templates may call beyond text/template's builtins. secret is bound per
// execution; note records every string a function returns, so an error can be scrubbed of
// values derived from secrets (a decoded or trimmed secret is a secret too).
func funcs(secret func(string) (string, error), note func(...string)) template.FuncMap {
	str := func(f func(string) string) func(string) string {
		return func(s string) string { r := f(s); note(r); return r }
	}
	return template.FuncMap{
		"secret":       secret,
		"urlencode":    str(URLEncode),
		"base64Encode": str(func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }),
		"base64Decode": func(s string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return "", fmt.Errorf("base64Decode: %w", errBase64)
			}
			note(string(b))
			return string(b), nil
		},
		"trimSpace": str(strings.TrimSpace),
		"toJSON": func(v any) (string, error) {
			s, err := toJSON(v)
			if err != nil {
				return "", err
			}
			note(s)
			return s, nil
		},
		"default": func(def string, v any) any {
			if isEmpty(v) {
				return def
			}
			return v
		},
		"split": func(sep, s string) []string {
			parts := strings.Split(s, sep)
			note(parts...)
			return parts
		},
		"join": func(sep string, list []string) string {
			r := strings.Join(list, sep)
			note(r)
			return r
		},
		"env": func(name string, def ...string) (string, error) {
			if v, ok := os.LookupEnv(name); ok {
				return v, nil
			}
			if len(def) > 0 {
				return def[0], nil
			}
			return "", fmt.Errorf("env %q %w", name, errEnvUnset)
		},
	}
}

// toJSON encodes a string as a JSON string and a list as a JSON array of strings, with
// <, > and & left as they are and no trailing newline.
func toJSON(v any) (string, error) {
	switch v.(type) {
	case string, []string:
	default:
		return "", fmt.Errorf("toJSON: takes a string or a list of strings, got %T", v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("toJSON: %T cannot be encoded", v)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []string:
		return len(v) == 0
	}
	return false
}
