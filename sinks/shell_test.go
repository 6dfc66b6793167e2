package sinks

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv"
)

// pwned is where the nasty values' injected commands would leave a trace.
const pwned = "/tmp/patas-pwned"

// checkShell encodes s and, unless it is refused, sources it in every shell. It returns
// whether s was refused.
func checkShell(t testing.TB, s Snapshot) (refused bool) {
	t.Helper()
	data, err := encodeShell(s)
	if err != nil {
		for _, v := range s.Vars {
			if isRefusal(t, err, "shell", string(v.Value.Reveal())) {
				return true
			}
		}
		t.Fatalf("encoding: %v", err)
	}
	want := wantMap(s)
	var names []string
	for _, v := range s.Vars {
		names = append(names, v.Name)
	}
	for _, sh := range shells {
		got, err := readShell(t, sh.bin, sh.env, data, names)
		if err != nil {
			t.Fatalf("%s cannot source\n%s\n: %v", sh.name, data, err)
		}
		if d := diffMaps(got, want); d != "" {
			t.Errorf("%s read\n%s\nas: %s", sh.name, data, d)
		}
	}
	return false
}

func TestShellRoundTrip(t *testing.T) {
	_ = os.Remove(pwned)
	for i, v := range nastyValues {
		t.Run(fmt.Sprintf("%02d_%q", i, v), func(t *testing.T) {
			refused := checkShell(t, snapshotOf("FIRST", "1", "V", v, "LAST", `'"\`))
			if want := strings.Contains(v, "\x00"); refused != want {
				t.Errorf("refused: got %v, want %v", refused, want)
			}
		})
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("sourcing ran an injected command: %s exists", pwned)
	}
}

// TestShellExports sources every accepted nasty value in one file and reads the
// environment of a program the shell execs, as an entrypoint does.
func TestShellExports(t *testing.T) {
	var kv []string
	for i, v := range nastyValues {
		if !strings.Contains(v, "\x00") {
			kv = append(kv, fmt.Sprintf("V%02d", i), v)
		}
	}
	s := snapshotOf(kv...)
	data, err := encodeShell(s)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, data)
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			got, err := execEnv(t, sh.bin, sh.env, path)
			if err != nil {
				t.Fatal(err)
			}
			want := wantMap(s)
			for k := range got {
				if _, ok := want[k]; !ok {
					delete(got, k) // the rest of the environment
				}
			}
			if d := diffMaps(got, want); d != "" {
				t.Error(d)
			}
		})
	}
}

// execEnv sources path in shell and returns the environment of the program it execs.
func execEnv(t *testing.T, shell string, env []string, path string) (map[string]string, error) {
	t.Helper()
	if _, err := exec.LookPath(shell); err != nil {
		testenv.Missing(t, shell, "apt-get install -y "+shell)
	}
	cmd := exec.Command(shell, "-c", `set -a; . "$1"; set +a; exec /usr/bin/env -0`, shell, path)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", shell, err)
	}
	got := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		k, v, _ := strings.Cut(string(kv), "=")
		got[k] = v
	}
	return got, nil
}

// TestShellReservedNames shows that each refused name really does not read back in some
// shell, and that ordinary names with a meaning to the shell do.
func TestShellReservedNames(t *testing.T) {
	const value = "v a l"
	readsBack := func(t *testing.T, name string) (bad []string) {
		path := writeTemp(t, fmt.Appendf(nil, "export %s='%s'\n", name, value))
		for _, sh := range shells {
			env, err := execEnv(t, sh.bin, sh.env, path)
			if got, ok := env[name]; err != nil || !ok || got != value {
				bad = append(bad, sh.name)
			}
		}
		return bad
	}
	var names []string
	for n := range shellReserved {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			if _, err := encodeShell(snapshotOf(n, value)); !isRefusal(t, err, "shell", value) {
				t.Errorf("got %v, want a refusal", err)
			}
			if n == "BASH_MONOSECONDS" || n == "BASH_TRAPSIG" {
				return // bash 5.3; not in the bash installed here
			}
			if bad := readsBack(t, n); len(bad) == 0 {
				t.Errorf("every shell reads %s back; it need not be refused", n)
			}
		})
	}
	for _, n := range []string{"PATH", "HOME", "IFS", "PS1", "PS4", "ENV", "BASH_ENV", "PWD", "OPTARG", "CDPATH", "uid", "random"} {
		t.Run(n, func(t *testing.T) {
			if bad := readsBack(t, n); len(bad) > 0 {
				t.Errorf("%s does not read back in %v", n, bad)
			}
		})
	}
}

func FuzzShell(f *testing.F) {
	for i, v := range nastyValues {
		f.Add(v, nastyValues[(i+1)%len(nastyValues)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := fuzzValues(a, b)
		if va, vb := strings.ReplaceAll(a, "\x00", ""), strings.ReplaceAll(b, "\x00", ""); va != a || vb != b {
			values = append(values, fuzzValues(va, vb)...)
		}
		if refused := checkShell(t, acceptedBatch(t, "shell", encodeShell, values)); refused {
			t.Fatal("refused a batch of values each accepted alone")
		}
	})
}
