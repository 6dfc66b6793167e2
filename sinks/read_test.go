package sinks

import (
	"slices"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

// TestWriterReaderRoundTrip writes every value of up to three characters from an alphabet
// of the characters each dialect treats specially through the dotenv and shell writers and
// reads it back with ReadEnvFile: every value a writer accepts must come back unchanged.
// Names go through the same ValidName on both sides: a name either writer refuses (., -,
// a leading digit) ReadEnvFile refuses too.
func TestWriterReaderRoundTrip(t *testing.T) {
	alphabet := []string{"a", " ", "\t", "'", "\"", "\\", "$", "{", "}", "#", "=", "\n", "\r", "`", "é", "\x1c", "\x00"}
	values := []string{""}
	for _, a := range alphabet {
		values = append(values, a)
		for _, b := range alphabet {
			values = append(values, a+b)
			for _, c := range alphabet {
				values = append(values, a+b+c)
			}
		}
	}
	for _, w := range []struct {
		name   string
		encode func(Snapshot) ([]byte, error)
	}{{"dotenv", encodeDotenv}, {"shell", encodeShell}} {
		t.Run(w.name, func(t *testing.T) {
			accepted := 0
			for _, v := range values {
				snap := Snapshot{Vars: []Var{{Name: "V", Value: fetcher.StringValue(v)}, {Name: "W_2", Value: fetcher.StringValue("w")}}}
				data, err := w.encode(snap)
				if err != nil {
					continue // the writer refuses this value; nothing to read back
				}
				accepted++
				got, err := ReadEnvFile(data)
				if want := []string{"V=" + v, "W_2=w"}; err != nil || !slices.Equal(got, want) {
					t.Errorf("%q written as %q: got %q, %v; want %q", v, data, got, err, want)
				}
			}
			if accepted < len(values)/3 {
				t.Errorf("the writer accepted %d of %d values; the test proves little", accepted, len(values))
			}
		})
	}
	for _, name := range []string{"A.B", "A-B", "1A", "", "Ä"} {
		snap := Snapshot{Vars: []Var{{Name: name, Value: fetcher.StringValue("v")}}}
		_, derr := encodeDotenv(snap)
		_, serr := encodeShell(snap)
		_, rerr := ReadEnvFile([]byte(name + "='v'\n"))
		if derr == nil || serr == nil || rerr == nil {
			t.Errorf("name %q: dotenv writer %v, shell writer %v, reader %v; want all three to refuse it", name, derr, serr, rerr)
		}
	}
}

func TestReadEnvFile(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		bad      bool
	}{
		{name: "comments and blanks", in: "# c\n\nA=1\n  # x\nB='2'\n", want: []string{"A=1", "B=2"}},
		{name: "later wins", in: "A=1\nB=2\nA=3\n", want: []string{"A=3", "B=2"}},
		{name: "multi-line", in: "A='x\ny'\nB=\"p\\nq\"\n", want: []string{"A=x\ny", "B=p\nq"}},
		{name: "comment after unquoted", in: "A=v # c\n", want: []string{"A=v"}},
		{name: "no final newline", in: "A='v'", want: []string{"A=v"}},
		{name: "shell quote idiom", in: "export A='it'\\''s'\n", want: []string{"A=it's"}},
		{name: "crlf", in: "A=1\r\nB='2'\r\n", want: []string{"A=1", "B=2"}},
		{name: "crlf with blank line and shell", in: "A=1\r\n\r\nexport B='2'\r\nC='x\r\ny'\r\n", want: []string{"A=1", "B=2", "C=x\ny"}},
		{name: "shell keeps a quoted CR LF", in: "export A='x\r\ny'\n", want: []string{"A=x\r\ny"}},
		{name: "unterminated", in: "A='x\n", bad: true},
		{name: "not an assignment", in: "hello\n", bad: true},
		{name: "bad name", in: "1A=x\n", bad: true},
		{name: "junk after value", in: "A='x' y\n", bad: true},
		{name: "shell expansion", in: "export A=$HOME\n", bad: true},
		{name: "escaped single quote in double quotes, as python-dotenv", in: "A=\"it\\'s\"\n", want: []string{"A=it's"}},
		{name: "name with a dot", in: "A.B=1\n", bad: true},
		{name: "name with a dash", in: "A-B=1\n", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadEnvFile([]byte(tc.in))
			if tc.bad {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestReadEnvFileErrorsCarryNoValue(t *testing.T) {
	const canary = "CANARY-envfile-77"
	for _, in := range []string{"A='" + canary + "\n", "A='x' " + canary + "\n", "export A=$" + canary + "\n"} {
		_, err := ReadEnvFile([]byte(in))
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error carries the value: %v", err)
		}
	}
}
