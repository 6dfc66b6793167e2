package supervisor

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// TestEnvFileRoundTrip writes values through the real dotenv and shell sinks and reads
// them back with parseEnvFile: what exec hands the app must be what the engine wrote.
func TestEnvFileRoundTrip(t *testing.T) {
	values := []string{
		"", "plain", "with space", " padded ", "\ttab", "'single'", `"double"`, `it's`, `'`, `"`, `''`,
		"$", "$$", "pa$$word", "$HOME", "`id`", "a#b", "a #b", "#start", "multi\nline\n", "\n", "cr\rlf",
		`back\slash`, `C:\dir\`, `\\`, `\'`, `\"`, "=", "a=b=c", "key1:ns1,key2:ns2", "ünïcödé ✓", "postgresql+asyncpg://u:p%40@db/x?a=1&b=2",
	}
	for _, format := range []string{"dotenv", "shell"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			checked := 0
			for i, v := range values {
				snap := sinks.Snapshot{Vars: []sinks.Var{{Name: "A", Value: fetcher.StringValue("first")}, {Name: "V", Value: fetcher.StringValue(v)}}}
				path := filepath.Join(dir, format+string(rune('a'+i)))
				s, err := sinks.New(format, path, sinks.FileOptions{Mode: 0o600, UID: -1, GID: -1})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Check(snap); err != nil {
					continue // the format refuses this value; nothing to read back
				}
				if _, err := s.Write(context.Background(), snap); err != nil {
					t.Fatal(err)
				}
				env, err := readEnv(path, nil)
				if err != nil {
					t.Errorf("value %d (%q): %v", i, v, err)
					continue
				}
				want := []string{"A=first", "V=" + v}
				if !slices.Equal(env.vars, want) {
					t.Errorf("value %d: got %q, want %q", i, env.vars, want)
				}
				checked++
			}
			if checked < len(values)/2 {
				t.Errorf("only %d of %d values were written by the sink; the test proves little", checked, len(values))
			}
		})
	}
}

func TestParseEnvFile(t *testing.T) {
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
		{name: "unterminated", in: "A='x\n", bad: true},
		{name: "not an assignment", in: "hello\n", bad: true},
		{name: "bad name", in: "1A=x\n", bad: true},
		{name: "junk after value", in: "A='x' y\n", bad: true},
		{name: "shell expansion", in: "export A=$HOME\n", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnvFile([]byte(tc.in))
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

func TestParseErrorsCarryNoValue(t *testing.T) {
	const canary = "CANARY-envfile-77"
	for _, in := range []string{"A='" + canary + "\n", "A='x' " + canary + "\n", "export A=$" + canary + "\n"} {
		_, err := parseEnvFile([]byte(in))
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error carries the value: %v", err)
		}
	}
}
