package supervisor

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// TestEnvFileRoundTrip writes values through the real dotenv and shell sinks and reads
// them back with readEnv (sinks.ReadEnvFile plus the env policy): what exec hands the app must be what the engine wrote.
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
