package sinks

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// dotenvRefused are the nasty values the dotenv dialect must refuse.
var dotenvRefused = map[string]bool{
	"${HOME}":               true, // python-dotenv interpolates it in any quoting
	"${X}":                  true,
	"${X:-default}":         true,
	`\${X}`:                 true,
	"\x00nul":               true, // no environment variable holds NUL
	"\xff\xfe invalid utf8": true, // python-dotenv decodes UTF-8
}

// checkDotenv encodes s and, unless it is refused, reads it back with python-dotenv and
// Compose. It returns whether s was refused.
func checkDotenv(t testing.TB, s Snapshot) (refused bool) {
	t.Helper()
	data, err := encodeDotenv(s)
	if err != nil {
		for _, v := range s.Vars {
			if isRefusal(t, err, "dotenv", string(v.Value.Reveal())) {
				return true
			}
		}
		t.Fatalf("encoding: %v", err)
	}
	want := wantMap(s)
	py, err := readPythonDotenv(t, data)
	if err != nil {
		t.Fatalf("python-dotenv cannot read\n%s\n: %v", data, err)
	}
	if d := diffMaps(py, want); d != "" {
		t.Errorf("python-dotenv read\n%s\nas: %s", data, d)
	}
	compose, err := readCompose(data)
	if err != nil {
		t.Fatalf("compose cannot read\n%s\n: %v", data, err)
	}
	if d := diffMaps(compose, want); d != "" {
		t.Errorf("compose read\n%s\nas: %s", data, d)
	}
	return false
}

func TestDotenvRoundTrip(t *testing.T) {
	for i, v := range nastyValues {
		t.Run(fmt.Sprintf("%02d_%q", i, v), func(t *testing.T) {
			refused := checkDotenv(t, snapshotOf("FIRST", "1", "V", v, "LAST", `"'\x`))
			if refused != dotenvRefused[v] {
				t.Errorf("refused: got %v, want %v", refused, dotenvRefused[v])
			}
		})
	}
}

// TestDotenvAllInOneFile puts every accepted nasty value in one file, so that a value
// whose quoting leaks into the next line (a reader that runs on to a later quote) shows.
func TestDotenvAllInOneFile(t *testing.T) {
	var kv []string
	for i, v := range nastyValues {
		if !dotenvRefused[v] {
			kv = append(kv, fmt.Sprintf("V%02d", i), v)
		}
	}
	if checkDotenv(t, snapshotOf(kv...)) {
		t.Fatal("refused")
	}
}

func TestDotenvForms(t *testing.T) {
	for _, c := range []struct{ value, want string }{
		{"plain", `'plain'`},
		{"", `''`},
		{"it's $HOME", `'it\'s $HOME'`},
		{"multi\nline", "'multi\nline'"},
		{`C:\dir\file`, `'C:\dir\file'`},
		{`a\\b "q"`, `"a\\\\b \"q\""`},
		{"cr\r\nlf", `"cr\r\nlf"`},
		{`\'`, `"\\'"`},
		{`C:\dir\`, `C:\dir\`},
		{`a"b\\`, `a"b\\`},
	} {
		t.Run(c.value, func(t *testing.T) {
			got, err := encodeDotenv(snapshotOf("V", c.value))
			if err != nil {
				t.Fatal(err)
			}
			if want := "V=" + c.want + "\n"; string(got) != want {
				t.Errorf("got %s, want %s", got, want)
			}
			checkDotenv(t, snapshotOf("V", c.value, "NEXT", `"`))
		})
	}
}

func TestDotenvRefuses(t *testing.T) {
	for _, c := range []struct{ name, value, reason string }{
		{"interpolation", "pre${DB_HOST}post", "${…}"},
		{"interpolation default", "${X:-y}", "${…}"},
		{"nul", "a\x00b", "NUL"},
		{"invalid utf-8", "\xc3\x28", "UTF-8"},
		{"dollar name and final backslash", `$HOME\`, "every form"},
		{"final backslash alone", `C:\dir\`, ""}, // accepted unquoted
		{"dollar name and newline and doubled backslash", "$HOME\n\\\\", "every form"},
		{"dollar name and CR and leading space", " $HOME\r", "every form"},
		{"dollar name, quote escape, comment", `$X \' #`, "every form"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := encodeDotenv(snapshotOf("OK", "1", "SECRET_X", c.value))
			if c.reason == "" {
				if err != nil {
					t.Fatalf("got %v, want it accepted", err)
				}
				return
			}
			if !isRefusal(t, err, "dotenv", c.value) {
				t.Fatalf("got %v, want a refusal", err)
			}
			if !strings.Contains(err.Error(), "SECRET_X") || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("got %q, want the variable and %q", err, c.reason)
			}
		})
	}
}

func FuzzDotenv(f *testing.F) {
	for i, v := range nastyValues {
		f.Add(v, nastyValues[(i+1)%len(nastyValues)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := fuzzValues(a, b)
		// Most mutations make invalid UTF-8, refused at once; try the readable rest too.
		if va, vb := envText(a), envText(b); va != a || vb != b {
			values = append(values, fuzzValues(va, vb)...)
		}
		if refused := checkDotenv(t, acceptedBatch(t, "dotenv", encodeDotenv, values)); refused {
			t.Fatal("refused a batch of values each accepted alone")
		}
	})
}

// pydanticSettings loads a file the way PATAS does, through pydantic-settings' env_file
// into a settings class with one required str field per name (argv[2:]; an undeclared
// extra would be dropped when empty), and prints what it read.
const pydanticSettings = `
import json, sys
from pydantic import create_model
from pydantic_settings import BaseSettings, SettingsConfigDict
class Base(BaseSettings):
    model_config = SettingsConfigDict(env_file=sys.argv[1], case_sensitive=True)
Settings = create_model("Settings", __base__=Base, **{n: (str, ...) for n in sys.argv[2:]})
sys.stdout.write(json.dumps(Settings().model_dump()))
`

// TestDotenvPydanticSettings reads every accepted nasty value through pydantic-settings,
// the loader PATAS itself uses on top of python-dotenv.
func TestDotenvPydanticSettings(t *testing.T) {
	requirePython(t, "pydantic_settings", "pydantic-settings")
	var kv []string
	for i, v := range nastyValues {
		if !dotenvRefused[v] {
			kv = append(kv, fmt.Sprintf("PATAS_TEST_V%02d", i), v)
		}
	}
	s := snapshotOf(kv...)
	data, err := encodeDotenv(s)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-c", pydanticSettings, writeTemp(t, data)}
	for _, v := range s.Vars {
		args = append(args, v.Name)
	}
	out, err := exec.Command("python3", args...).Output()
	if err != nil {
		t.Fatalf("pydantic-settings: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	if d := diffMaps(got, wantMap(s)); d != "" {
		t.Error(d)
	}
}

// TestDotenvNames reads back names that look like dotenv syntax.
func TestDotenvNames(t *testing.T) {
	checkDotenv(t, snapshotOf("export", "e", "_", "u", "a1", "x", "EXPORT_X", "y"))
}
