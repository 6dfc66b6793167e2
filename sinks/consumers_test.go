package sinks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/docker/cli/pkg/kvfile"
	"go.uber.org/goleak"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv"
)

// The real consumers of each dialect. The subprocess ones (python-dotenv, bash, dash) are
// long-lived servers, one per test process, that read a file path per request, so that a
// fuzz iteration costs a pipe round trip and a fork instead of an interpreter start.

func TestMain(m *testing.M) {
	code := m.Run()
	stopServers()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// expanded is what every name resolves to when a reader looks one up, so that an
// interpolation that should not have happened changes the value and fails the test.
const expanded = "<EXPANDED>"

// pythonServer loads each file with python-dotenv's dotenv_values (interpolation on, the
// default) and answers with the values, or the error and any warning python-dotenv logged
// (it logs, rather than raises, on a line it cannot parse).
const pythonServer = `
import json, logging, os, sys
import dotenv
warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("dotenv.main").addHandler(Keep())
logging.getLogger("dotenv.main").propagate = False
for line in sys.stdin:
    warnings.clear()
    try:
        out = {"vars": dotenv.dotenv_values(line[:-1])}
    except Exception as e:
        out = {"error": repr(e)}
    out["warnings"] = list(warnings)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
`

// shellServer sources each file in a subshell, the way an entrypoint does, and prints
// OK, then the named variables, NUL-separated, then END. A file that stops the subshell
// (a syntax error) yields END alone.
const shellServer = `
while IFS= read -r f; do
	( set -a; . "$f"; set +a; printf 'OK\0'; for n in $NAMES; do eval "printf '%s\0' \"\${$n-<UNSET>}\""; done )
	printf 'END\0'
done
`

type server struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	dead error
}

var (
	serversMu sync.Mutex
	servers   = map[string]*server{}
)

func startServer(t testing.TB, key string, argv []string, env []string) *server {
	t.Helper()
	serversMu.Lock()
	defer serversMu.Unlock()
	if s, ok := servers[key]; ok {
		return s
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		testenv.Missing(t, argv[0], "install it (apt-get install -y "+argv[0]+")")
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", key, err)
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewReader(out)}
	servers[key] = s
	return s
}

func stopServers() {
	serversMu.Lock()
	defer serversMu.Unlock()
	for k, s := range servers {
		_ = s.in.Close()
		_ = s.cmd.Wait()
		delete(servers, k)
	}
}

// ask sends one file path and returns the server's raw answer, read by readAnswer.
func (s *server) ask(path string, readAnswer func(*bufio.Reader) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead != nil {
		return s.dead
	}
	if _, err := io.WriteString(s.in, path+"\n"); err != nil {
		s.dead = err
		return err
	}
	if err := readAnswer(s.out); err != nil {
		s.dead = err
		return err
	}
	return nil
}

var pythonModules sync.Map // module -> error of importing it

// requirePython skips (fails under CI) when python3 cannot import module.
func requirePython(t testing.TB, module, pkg string) {
	t.Helper()
	err, ok := pythonModules.Load(module)
	if !ok {
		err = exec.Command("python3", "-c", "import "+module).Run()
		pythonModules.Store(module, err)
	}
	if err != nil {
		testenv.Missing(t, "python3 with "+pkg, "pip install "+pkg)
	}
}

// writeTemp writes data to a fresh file for a consumer to read.
func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readPythonDotenv returns what python-dotenv reads from data.
func readPythonDotenv(t testing.TB, data []byte) (map[string]string, error) {
	t.Helper()
	requirePython(t, "dotenv", "python-dotenv")
	s := startServer(t, "python-dotenv", []string{"python3", "-c", pythonServer}, []string{"PYTHONIOENCODING=utf-8"})
	var ans struct {
		Vars     map[string]*string `json:"vars"`
		Error    string             `json:"error"`
		Warnings []string           `json:"warnings"`
	}
	err := s.ask(writeTemp(t, data), func(r *bufio.Reader) error {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("python-dotenv server: %w", err)
		}
		return json.Unmarshal(line, &ans)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Error != "" || len(ans.Warnings) > 0 {
		return nil, fmt.Errorf("python-dotenv: %s %v", ans.Error, ans.Warnings)
	}
	got := map[string]string{}
	for k, v := range ans.Vars {
		if v == nil {
			return nil, fmt.Errorf("python-dotenv: %s has no value", k)
		}
		got[k] = *v
	}
	return got, nil
}

// readCompose returns what Compose's env_file parser reads from data, with every name
// that it looks up resolving to expanded.
func readCompose(data []byte) (map[string]string, error) {
	return dotenv.ParseWithLookup(bytes.NewReader(data), func(string) (string, bool) { return expanded, true })
}

// readDocker returns what docker run --env-file reads from data, through the docker CLI's
// own parser (opts.ReadKVEnvStrings calls kvfile.Parse with os.LookupEnv).
func readDocker(t testing.TB, data []byte) (map[string]string, error) {
	lines, err := kvfile.Parse(writeTemp(t, data), func(string) (string, bool) { return expanded, true })
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		if _, dup := got[k]; dup {
			return nil, fmt.Errorf("docker: %s twice", k)
		}
		got[k] = v
	}
	return got, nil
}

// readShell sources data in shell (bash or dash, started with extra env) and returns
// the values of names, or an error when the file did not source.
func readShell(t testing.TB, shell string, env []string, data []byte, names []string) (map[string]string, error) {
	t.Helper()
	key := shell + " " + strings.Join(env, " ") + " " + strings.Join(names, " ")
	s := startServer(t, key, []string{shell, "-c", shellServer}, append(env, "NAMES="+strings.Join(names, " ")))
	var got map[string]string
	var failed bool
	err := s.ask(writeTemp(t, data), func(r *bufio.Reader) error {
		tok := func() (string, error) {
			b, err := r.ReadBytes(0)
			return string(bytes.TrimSuffix(b, []byte{0})), err
		}
		first, err := tok()
		if err != nil {
			return err
		}
		if first == "END" {
			failed = true
			return nil
		}
		if first != "OK" {
			return fmt.Errorf("%s server: unexpected %q", shell, first)
		}
		got = map[string]string{}
		for _, n := range names {
			v, err := tok()
			if err != nil {
				return err
			}
			if v != "<UNSET>" {
				got[n] = v
			}
		}
		end, err := tok()
		if err == nil && end != "END" {
			err = fmt.Errorf("%s server: got %q, want END", shell, end)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if failed {
		return nil, errors.New(shell + ": sourcing the file failed")
	}
	return got, nil
}

// shells are the readers of the shell dialect: POSIX sh here is dash; bash in a UTF-8
// and in the C locale (a container's default).
var shells = []struct {
	name, bin string
	env       []string
}{
	{"dash", "dash", nil},
	{"bash", "bash", []string{"LC_ALL=C.UTF-8"}},
	{"bash-C", "bash", []string{"LC_ALL=C"}},
}

// snapshotOf builds a snapshot from name/value pairs.
func snapshotOf(kv ...string) Snapshot {
	var s Snapshot
	for i := 0; i+1 < len(kv); i += 2 {
		s.Vars = append(s.Vars, Var{Name: kv[i], Value: fetcher.StringValue(kv[i+1])})
	}
	return s
}

// wantMap is the snapshot as the map a reader should return.
func wantMap(s Snapshot) map[string]string {
	m := map[string]string{}
	for _, v := range s.Vars {
		m[v.Name] = string(v.Value.Reveal())
	}
	return m
}

// diffMaps describes how got differs from want without printing values in full.
func diffMaps(got, want map[string]string) string {
	var b strings.Builder
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			fmt.Fprintf(&b, "%s missing; ", k)
		case g != w:
			fmt.Fprintf(&b, "%s: got %q, want %q; ", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "unexpected %s=%q; ", k, g)
		}
	}
	return b.String()
}

// isRefusal checks that err is a *RefuseError for format and does not reveal value.
func isRefusal(t testing.TB, err error, format, value string) bool {
	t.Helper()
	var re *RefuseError
	if !errors.As(err, &re) {
		return false
	}
	if re.Format != format || re.Reason == "" {
		t.Errorf("got refusal %+v, want format %s with a reason", re, format)
	}
	if len(value) >= 6 && strings.Contains(err.Error(), value) {
		t.Errorf("refusal %q reveals the value", err)
	}
	return true
}

// envText is v made valid UTF-8 without NUL: what a fuzzer's mutation becomes before it
// is tried as a value that an environment can hold.
func envText(v string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
}

// fuzzValues derives, from a fuzzer's two inputs, the values one iteration tries at once:
// a subprocess round trip costs far more than encoding, so each carries several values,
// including the joins where one value's quoting could leak into its neighbour's.
func fuzzValues(a, b string) []string {
	return []string{a, b, a + b, b + a, a + "\n" + b, a + "'" + b, a + `"` + b, a + "\\" + b, a + "$" + b}
}

// acceptedBatch checks that each value encode refuses is refused with a proper error, and
// returns the others as a snapshot V0, V1, … followed by the sentinel variable Z.
func acceptedBatch(t testing.TB, format string, encode encoder, values []string) Snapshot {
	t.Helper()
	var s Snapshot
	for i, v := range values {
		name := fmt.Sprintf("V%d", i)
		if _, err := encode(snapshotOf(name, v)); err != nil {
			if !isRefusal(t, err, format, v) {
				t.Fatalf("encoding: %v", err)
			}
			continue
		}
		s.Vars = append(s.Vars, Var{Name: name, Value: fetcher.StringValue(v)})
	}
	s.Vars = append(s.Vars, Var{Name: "Z", Value: fetcher.StringValue(`'"\x $`)})
	return s
}
