package hygiene

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func rules(fs []Finding) string {
	var r []string
	for _, f := range fs {
		r = append(r, f.Rule)
	}
	return strings.Join(r, ",")
}

func TestCheckValue(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"DATABASE_URL", "postgresql+asyncpg://postgres:postgres@localhost:5432/patas_dev", "known_weak,known_weak,too_short,low_entropy"},
		{"DATABASE_URL", "postgresql+asyncpg://patas:Xk2v9Qp7Lm4Rt8Wz1Yc5@db:5432/patas", ""},
		{"DATABASE_URL", "postgresql://db:5432/patas", ""},
		{"LLM_API_KEY", "sk-test-key", "known_weak,too_short,low_entropy"},
		{"LLM_API_KEY", "sk-proj-9fK2mQ7xLp4Vb8Zt3Rw6Yc1N", ""},
		{"API_KEYS", "dev-key:development", "known_weak,too_short,low_entropy"},
		{"API_KEYS", "Zq8vK2mP9xL4tR7wB3nC6yH1:ns1,Jf5gT8kW2pQ9xM4vL7rB3cN6:ns2", ""},
		{"API_KEYS", "Zq8vK2mP9xL4tR7wB3nC6yH1:ns1,short:ns2", "too_short,low_entropy"},
		{"TAS_API_KEY", "aaaaaaaaaaaaaaaaaaaaaaaa", "low_entropy"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.want, func(t *testing.T) {
			fs := CheckValue(tt.name, []byte(tt.value), 16)
			if got := rules(fs); got != tt.want {
				t.Errorf("got %q, want %q (%v)", got, tt.want, fs)
			}
			for _, f := range fs {
				if f.Subject != tt.name || strings.Contains(fmt.Sprint(f), tt.value) {
					t.Errorf("finding %v: wrong subject or holds the value", f)
				}
			}
		})
	}
}

func TestCheckAge(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	if fs := CheckAge("aws:patas/production", now.Add(-91*24*time.Hour), 90*24*time.Hour, now); rules(fs) != "max_age" || !strings.Contains(fs[0].Detail, "91 days") {
		t.Errorf("91 days old: got %v", fs)
	}
	if fs := CheckAge("x", now.Add(-89*24*time.Hour), 90*24*time.Hour, now); fs != nil {
		t.Errorf("89 days old: got %v, want none", fs)
	}
	if fs := CheckAge("x", time.Time{}, time.Hour, now); fs != nil {
		t.Errorf("unknown creation time: got %v, want none", fs)
	}
}

func TestEntropyBits(t *testing.T) {
	if got := EntropyBits("aaaa"); got != 0 {
		t.Errorf("aaaa: got %v, want 0", got)
	}
	if got := EntropyBits("abcd"); got != 8 {
		t.Errorf("abcd: got %v, want 8", got)
	}
}
