package sinks

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkDocker encodes s and, unless it is refused, reads it back with the docker CLI's
// env-file parser. It returns whether s was refused.
func checkDocker(t testing.TB, s Snapshot) (refused bool) {
	t.Helper()
	data, err := encodeDocker(s)
	if err != nil {
		for _, v := range s.Vars {
			if isRefusal(t, err, "docker", string(v.Value.Reveal())) {
				return true
			}
		}
		t.Fatalf("encoding: %v", err)
	}
	got, err := readDocker(t, data)
	if err != nil {
		t.Fatalf("docker cannot read\n%s\n: %v", data, err)
	}
	if d := diffMaps(got, wantMap(s)); d != "" {
		t.Errorf("docker read\n%s\nas: %s", data, d)
	}
	return false
}

func dockerRefuses(v string) bool {
	return strings.ContainsAny(v, "\r\n\x00") || !utf8.ValidString(v)
}

func TestDockerRoundTrip(t *testing.T) {
	for i, v := range nastyValues {
		t.Run(fmt.Sprintf("%02d_%q", i, v), func(t *testing.T) {
			if got, want := checkDocker(t, snapshotOf("FIRST", "1", "V", v, "LAST", " x ")), dockerRefuses(v); got != want {
				t.Errorf("refused: got %v, want %v", got, want)
			}
		})
	}
}

// TestDockerLineLimit finds the longest line docker reads and checks we refuse one more.
func TestDockerLineLimit(t *testing.T) {
	name := "V"
	longest := strings.Repeat("x", dockerMaxLine-len(name)-1)
	if checkDocker(t, snapshotOf(name, longest)) {
		t.Fatalf("refused a %d-byte line", dockerMaxLine)
	}
	tooLong := longest + "x"
	if !checkDocker(t, snapshotOf(name, tooLong)) {
		t.Fatalf("accepted a %d-byte line", dockerMaxLine+1)
	}
	if _, err := readDocker(t, []byte(name+"="+tooLong+"\n")); err == nil {
		t.Errorf("docker reads a %d-byte line; the limit is wrong", dockerMaxLine+1)
	}
}

func FuzzDocker(f *testing.F) {
	for i, v := range nastyValues {
		f.Add(v, nastyValues[(i+1)%len(nastyValues)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := fuzzValues(a, b)
		s := acceptedBatch(t, "docker", encodeDocker, values)
		if len(s.Vars)-1 != countFunc(values, func(v string) bool { return !dockerRefuses(v) && len("V0=")+len(v) <= dockerMaxLine }) {
			t.Errorf("refused a value docker reads back")
		}
		if refused := checkDocker(t, s); refused {
			t.Fatal("refused a batch of values each accepted alone")
		}
	})
}

func countFunc(vs []string, f func(string) bool) int {
	n := 0
	for _, v := range vs {
		if f(v) {
			n++
		}
	}
	return n
}
