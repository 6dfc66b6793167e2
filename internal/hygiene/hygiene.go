// Package hygiene flags weak and old secrets in production: the guide asks for strong,
// randomly generated secrets rotated every 90 days. Findings name the variable and the
// rule, never the value.
package hygiene

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// Rules, the values of a finding's Rule.
const (
	RuleMaxAge     = "max_age"
	RuleTooShort   = "too_short"
	RuleLowEntropy = "low_entropy"
	RuleKnownWeak  = "known_weak"
)

// Finding is one rule a secret breaks.
type Finding struct {
	Rule    string
	Subject string // a variable name or a ref; never a value
	Detail  string // never a value
}

// minEntropyBits is the least estimated entropy of a secret: about what 8 random
// alphanumeric characters carry, far below what a generated key has.
const minEntropyBits = 40

// knownWeak are development and default values, as seen in the guide's .env example
// (postgres:postgres, sk-test-key, dev-key) and the usual defaults.
var knownWeak = map[string]bool{
	"postgres": true, "password": true, "changeme": true, "secret": true, "admin": true,
	"root": true, "test": true, "sk-test-key": true, "sk-...": true, "dev-key": true,
	"example": true, "default": true, "letmein": true, "123456": true, "12345678": true,
	"qwerty": true, "your-tas-api-key": true, "sk-your-api-key": true, "key1": true, "key2": true,
	"guest": true, "redis": true,
}

// CheckValue returns the findings for variable name holding v. It checks the secret parts
// of the value: a URL's password (and whether it equals the user name, as in
// postgres:postgres), each key of a "key:namespace,…" list such as API_KEYS, or else the
// whole value.
func CheckValue(name string, v []byte, minLength int) []Finding {
	var out []Finding
	for _, p := range secretParts(string(v)) {
		if p.user != "" && p.user == p.secret {
			out = append(out, Finding{RuleKnownWeak, name, p.what + " equals the user name"})
		}
		out = append(out, checkPart(name, p, minLength)...)
	}
	return out
}

type part struct{ what, user, secret string }

func secretParts(s string) []part {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if pw, ok := u.User.Password(); ok {
			return []part{{what: "the URL's password", user: u.User.Username(), secret: pw}}
		}
		return nil // a URL without a password holds no secret to judge
	}
	if strings.Contains(s, ",") || strings.Contains(s, ":") {
		var parts []part
		for _, item := range strings.Split(s, ",") {
			key, _, _ := strings.Cut(strings.TrimSpace(item), ":")
			parts = append(parts, part{what: "a key of the list", secret: key})
		}
		return parts
	}
	return []part{{what: "the value", secret: s}}
}

func checkPart(name string, p part, minLength int) []Finding {
	var out []Finding
	if knownWeak[strings.ToLower(p.secret)] {
		out = append(out, Finding{RuleKnownWeak, name, p.what + " is a well-known development or default value"})
	}
	if len(p.secret) < minLength {
		out = append(out, Finding{RuleTooShort, name, p.what + " is shorter than the minimum length"})
	}
	if bits := EntropyBits(p.secret); bits < minEntropyBits {
		out = append(out, Finding{RuleLowEntropy, name, p.what + " has low entropy"})
	}
	return out
}

// EntropyBits estimates the entropy of s from its own character frequencies (Shannon
// entropy per character times length). It understates random strings shorter than their
// alphabet and overstates patterned ones; good enough to flag "aaaa" and "password".
func EntropyBits(s string) float64 {
	if s == "" {
		return 0
	}
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h * float64(n)
}

// CheckAge returns a finding when a secret version created at created is older than max.
func CheckAge(subject string, created time.Time, max time.Duration, now time.Time) []Finding {
	if created.IsZero() || now.Sub(created) <= max {
		return nil
	}
	days := int(now.Sub(created).Hours() / 24)
	return []Finding{{RuleMaxAge, subject, fmt.Sprintf("created %d days ago; rotate it (max_age %d days)", days, int(max.Hours()/24))}}
}
