package file

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestDotenvMatchesPythonDotenv reads .env files a developer might write with parseDotenv
// and with python-dotenv itself (interpolation off, as parseDotenv never expands): every
// key and value must agree, so a key means the same to the file backend as to PATAS.
func TestDotenvMatchesPythonDotenv(t *testing.T) {
	if err := exec.Command("python3", "-c", "import dotenv").Run(); err != nil {
		testenv.Missing(t, "python3 with python-dotenv", "pip install python-dotenv")
	}
	files := []string{
		"A=1\nB='two'\nC=\"three\"\n",
		"export A=1\n  B = 2 \n# comment\n\nC=3 # trailing comment\n",
		"A=\"it\\'s\"\nB='it\\'s'\nC=\"q\\\"q\"\nD='back\\\\slash'\nE=\"back\\\\slash\"\n",
		"A=\"line1\\nline2\"\nB=\"tab\\tx\"\nC='no\\nescape'\n",
		"A='multi\nline'\nB=\"multi\nline\"\n",
		"app.name=x\nlog-level=debug\nA_1=y\n",
		"A=1\r\nB='2'\r\n",
		"A=a#b\nB=a #b\nC='a #b'\n",
		"A=\nB=''\nC=\"\"\n",
		"A=$HOME\nB='${X}'\nC=\"${Y:-d}\"\n",
		"A=x=y=z\nB='sp ace'\nC=  padded  \n",
		"A=ünïcödé ✓\nB='✓'\n",
		"A=\"bell\\a form\\f\"\nB=\"unknown\\q\"\n",
		"A='x' # c\nB=\"y\"   # c\n",
	}
	dir := t.TempDir()
	var paths []string
	for i, f := range files {
		p := filepath.Join(dir, strconv.Itoa(i)+".env")
		if err := os.WriteFile(p, []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	args := append([]string{"-c", `import json, sys
from dotenv import dotenv_values
print(json.dumps([dotenv_values(p, interpolate=False) for p in sys.argv[1:]]))`}, paths...)
	out, err := exec.Command("python3", args...).Output()
	if err != nil {
		t.Fatalf("python-dotenv: %v", err)
	}
	var want []map[string]*string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		got := parseDotenv([]byte(f))
		if len(got) != len(want[i]) {
			t.Errorf("file %q: got %d keys, python-dotenv %d (%v)", f, len(got), len(want[i]), keys(want[i]))
		}
		for k, w := range want[i] {
			g, ok := got[k]
			switch {
			case !ok:
				t.Errorf("file %q: key %q: missing, python-dotenv has it", f, k)
			case w == nil:
				t.Errorf("file %q: key %q: python-dotenv has no value", f, k)
			case string(g.Reveal()) != *w:
				t.Errorf("file %q: key %q: got %q, python-dotenv %q", f, k, g.Reveal(), *w)
			}
		}
	}
}

func keys(m map[string]*string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
