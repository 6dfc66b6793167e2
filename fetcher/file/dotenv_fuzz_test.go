package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// fuzzDir is a directory for fuzz iterations' files: tmpfs when there is one, so that the
// sink's fsyncs cost nothing.
func fuzzDir(f *testing.F) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "patas-fuzz-")
		if err == nil {
			f.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return f.TempDir()
}

// FuzzParseDotenv: the reader never panics, returns only valid names, and is all or
// nothing (nil, or at least one variable).
func FuzzParseDotenv(f *testing.F) {
	for _, s := range []string{
		"A=1\nB='two words'\nexport C=\"x\\ny\"\n# c\n\nD=v #comment\n",
		"DATABASE_URL=postgresql+asyncpg://u:p@db/x\n", "A='multi\nline'\n", "A=\"unterminated\n", "just a password",
		"A='it\\'s'\n", "A=\"q\\\"\\\\\"\n", "A=1\r\nB=2\r\n", "=novalue\n", "A B=1\n", "export=1\n", "A='x' trailing\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseDotenv(data)
		if m != nil && len(m) == 0 {
			t.Fatalf("an empty, non-nil result")
		}
		for k := range m {
			if !validKey(k) {
				t.Fatalf("invalid name %q", k)
			}
		}
		if _, err := (&Backend{}).parseFields(data); err != nil && m != nil && len(data) > 0 && data[0] != '{' {
			t.Fatalf("parseFields failed on dotenv content: %v", err)
		}
	})
}

// FuzzDotenvRoundTrip: whatever the dotenv sink writes, the file backend reads back to the
// same value (a dotenv output of one sidecar can be another's file source).
func FuzzDotenvRoundTrip(f *testing.F) {
	for _, v := range []string{"", "plain", "it's", `back\slash`, "multi\nline", " padded ", "a #b", `"dq"`, "$HOME", "ünï", "\t", "=", "'", `\'`} {
		f.Add(v)
	}
	dir := fuzzDir(f)
	path := filepath.Join(dir, "out.env")
	s, err := sinks.New("dotenv", path, sinks.FileOptions{Mode: 0o600, UID: -1, GID: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		snap := sinks.Snapshot{Vars: []sinks.Var{{Name: "V", Value: fetcher.StringValue(v)}, {Name: "W", Value: fetcher.StringValue("w")}}}
		if s.Check(snap) != nil {
			return // the dialect refuses this value
		}
		if _, err := s.Write(context.Background(), snap); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := parseDotenv(b)
		if got := string(m["V"].Reveal()); got != v || string(m["W"].Reveal()) != "w" {
			t.Fatalf("value %q written as %q, read back as %q", v, b, got)
		}
	})
}

// FuzzParseFields: JSON objects, dotenv or neither; never a panic; with dotenv refused,
// exactly what fetcher.ParseJSONObject says.
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{`{"a":"1","b":2,"c":{"d":true},"e":null}`, `[]`, `{"a":`, `"str"`, "A=1", `{}`, `{"a":"x","a":"y"}`, "\xef\xbb\xbf{\"a\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = (&Backend{}).parseFields(data)
		m, err := (&Backend{noDotenv: true}).parseFields(data)
		jm, jerr := fetcher.ParseJSONObject(data)
		if (err == nil) != (jerr == nil) || len(m) != len(jm) || (m == nil) != (jm == nil) {
			t.Fatalf("with dotenv refused: got %d fields, %v; JSON alone gives %d, %v", len(m), err, len(jm), jerr)
		}
	})
}
