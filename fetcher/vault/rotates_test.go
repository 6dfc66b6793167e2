package vault

import (
	"encoding/json"
	"testing"
	"time"
)

// TestRotatesIn: only a static role's answer (rotation_period and a numeric ttl) announces a
// rotation; an overdue one (ttl 0) asks for a read in a second.
func TestRotatesIn(t *testing.T) {
	for _, c := range []struct {
		name string
		data map[string]any
		want time.Duration
	}{
		{"static role", map[string]any{"ttl": json.Number("4"), "rotation_period": json.Number("5")}, 4 * time.Second},
		{"rotation overdue", map[string]any{"ttl": json.Number("0"), "rotation_period": json.Number("5")}, time.Second},
		{"ttl without rotation_period", map[string]any{"ttl": json.Number("4")}, 0},
		{"ttl not a number", map[string]any{"ttl": "soon", "rotation_period": json.Number("5")}, 0},
		{"negative ttl", map[string]any{"ttl": json.Number("-3"), "rotation_period": json.Number("5")}, 0},
		{"no ttl", map[string]any{"username": "u"}, 0},
	} {
		if got := rotatesIn(c.data); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}
