package sinks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"
)

// checkJSON encodes s and, unless it is refused, decodes it with encoding/json, strictly:
// exactly one object, every member a string. It returns whether s was refused.
func checkJSON(t testing.TB, s Snapshot) (refused bool) {
	t.Helper()
	data, err := encodeJSON(s)
	if err != nil {
		for _, v := range s.Vars {
			if isRefusal(t, err, "json", string(v.Value.Reveal())) {
				return true
			}
		}
		t.Fatalf("encoding: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var got map[string]string
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding\n%s\n: %v", data, err)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value in\n%s", data)
	}
	if d := diffMaps(got, wantMap(s)); d != "" {
		t.Errorf("encoding/json read\n%s\nas: %s", data, d)
	}
	return false
}

func TestJSONRoundTrip(t *testing.T) {
	for i, v := range nastyValues {
		t.Run(fmt.Sprintf("%02d_%q", i, v), func(t *testing.T) {
			if got, want := checkJSON(t, snapshotOf("FIRST", "1", "V", v)), !utf8.ValidString(v); got != want {
				t.Errorf("refused: got %v, want %v", got, want)
			}
		})
	}
}

func TestJSONLayout(t *testing.T) {
	for _, c := range []struct {
		s    Snapshot
		want string
	}{
		{Snapshot{}, "{}\n"},
		{snapshotOf("B", "<&>", "A", "line\n\"q\"\x00"), "{\n  \"B\": \"<&>\",\n  \"A\": \"line\\n\\\"q\\\"\\u0000\"\n}\n"},
	} {
		got, err := encodeJSON(c.s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func FuzzJSON(f *testing.F) {
	for i, v := range nastyValues {
		f.Add(v, nastyValues[(i+1)%len(nastyValues)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := fuzzValues(a, b)
		s := acceptedBatch(t, "json", encodeJSON, values)
		if len(s.Vars)-1 != countFunc(values, utf8.ValidString) {
			t.Errorf("refused valid UTF-8")
		}
		if refused := checkJSON(t, s); refused {
			t.Fatal("refused a batch of values each accepted alone")
		}
	})
}
