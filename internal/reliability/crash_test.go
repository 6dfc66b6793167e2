package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// genValue is the value of generation n: a header and a trailer naming n around a body
// long enough that a write takes a while, so that a kill lands inside one. A reader can
// tell a complete value from any prefix, suffix or mix of two.
func genValue(n int, size int) string {
	tag := fmt.Sprintf("gen-%08d", n)
	body := strings.Repeat(strconv.Itoa(n%10), size)
	return tag + "-" + canary + "-" + body + "-end-" + tag
}

var genRE = regexp.MustCompile(`^gen-(\d{8})-` + regexp.QuoteMeta(canary) + `-(\d*)-end-gen-(\d{8})$`)

// checkGen reports the generation of a complete value, or an error describing a broken one.
func checkGen(v string, size int) (int, error) {
	m := genRE.FindStringSubmatch(v)
	if m == nil {
		return 0, fmt.Errorf("not a complete value (%d bytes, starts %.20q, ends %.20q)", len(v), v, v[max(0, len(v)-20):])
	}
	n, _ := strconv.Atoi(m[1])
	if m[1] != m[3] || len(m[2]) != size || strings.Trim(m[2], strconv.Itoa(n%10)) != "" {
		return 0, fmt.Errorf("a mix of generations (%s and %s) or a damaged body", m[1], m[3])
	}
	return n, nil
}

// source writes a new generation of the secret file every few milliseconds, each by an
// atomic rename (as Kubernetes and Swarm do), until stopped.
type source struct {
	dir, tmp string
	size     int
	mu       sync.Mutex
	last     int
	stop     chan struct{}
	done     chan struct{}
}

func startSource(t *testing.T, dir string, size int, every time.Duration) *source {
	t.Helper()
	s := &source{dir: dir, tmp: t.TempDir(), size: size, stop: make(chan struct{}), done: make(chan struct{})}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.write(t, 0)
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			s.write(t, n)
		}
	}()
	t.Cleanup(s.halt)
	return s
}

func (s *source) write(t *testing.T, n int) {
	// The temporary file lives outside the watched directory but on the same filesystem
	// as t.TempDir, so the rename is atomic.
	tmp := filepath.Join(s.dir, "..tmp_api_key")
	if err := os.WriteFile(tmp, []byte(genValue(n, s.size)+"\n"), 0o600); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "api_key")); err != nil {
		t.Error(err)
		return
	}
	s.mu.Lock()
	s.last = n
	s.mu.Unlock()
}

func (s *source) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *source) lastGen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// sidecar is a `patas-secrets run` process.
type sidecar struct {
	cmd    *exec.Cmd
	stderr *logs
	exited chan struct{}
}

func startSidecar(t *testing.T, bin, cfg string) *sidecar {
	t.Helper()
	l := newLogs()
	cmd := exec.Command(bin, "run", "--config", cfg, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = l, l
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sidecar{cmd: cmd, stderr: l, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *sidecar) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// term stops the sidecar the way Kubernetes does and returns its exit status.
func (s *sidecar) term(t *testing.T) int {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("run did not stop within 30s of SIGTERM")
		s.kill()
	}
	return s.cmd.ProcessState.ExitCode()
}

// crashOutputs are the outputs of the crash and soak configs.
type crashOutputs struct{ env, sh, json, files string }

func crashConfig(t *testing.T, dir string) (string, crashOutputs) {
	t.Helper()
	cfg := filepath.Join(dir, "patas.yaml")
	if err := os.WriteFile(cfg, []byte(`
environment: test
backends:
  src: {type: file, dir: secrets}
secrets:
  - {env: API_KEY, ref: "src:api_key"}
outputs:
  - {format: dotenv, path: out/secrets.env, mode: "0440"}
  - {format: shell, path: out/secrets.sh, mode: "0440"}
  - {format: json, path: out/secrets.json, mode: "0440"}
  - {format: files, path: out/files, mode: "0440"}
refresh: {interval: 1s, jitter: "10%", watch: true, max_staleness: 1h}
listen: "off"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	return cfg, crashOutputs{
		env: filepath.Join(out, "secrets.env"), sh: filepath.Join(out, "secrets.sh"),
		json: filepath.Join(out, "secrets.json"), files: filepath.Join(out, "files", "API_KEY"),
	}
}

// readGens reads every output as its consumer would and returns the generation each
// holds (-1: not written yet), or an error for a partial or mixed one.
func readGens(o crashOutputs, size int) (map[string]int, error) {
	gens := map[string]int{}
	var errs []string
	get := func(path string, extract func([]byte) (string, error)) {
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			gens[path] = -1
			return
		}
		if err != nil {
			errs = append(errs, err.Error())
			return
		}
		v, err := extract(b)
		if err == nil {
			gens[path], err = checkGen(v, size)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", path, err))
		}
	}
	line := func(prefix string) func([]byte) (string, error) {
		return func(b []byte) (string, error) {
			s := string(b)
			if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, "'\n") || strings.Count(s, "\n") != 1 {
				return "", fmt.Errorf("not one complete line %s…'", prefix)
			}
			return s[len(prefix) : len(s)-2], nil
		}
	}
	get(o.env, line("API_KEY='"))
	get(o.sh, line("export API_KEY='"))
	get(o.json, func(b []byte) (string, error) {
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return "", err
		}
		return m["API_KEY"], nil
	})
	get(o.files, func(b []byte) (string, error) { return string(b), nil })
	if len(errs) > 0 {
		return gens, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return gens, nil
}

// leftovers lists what crashed writes left in the output directory: the atomic writer's
// temporary files and the files format's generations other than the live one.
func leftovers(t *testing.T, out string) (temps, gens []string) {
	t.Helper()
	temps = tempFiles(t, out)
	live, _ := os.Readlink(filepath.Join(out, "files", "..data"))
	all, _ := filepath.Glob(filepath.Join(out, "files", "..????_??_??_??_??_??.?????????"))
	for _, g := range all {
		if filepath.Base(g) != live {
			gens = append(gens, filepath.Base(g))
		}
	}
	return temps, gens
}

// TestCrashDuringWrites kills `run` with SIGKILL at random moments while the source
// changes every few milliseconds. After every kill each output holds one complete
// generation (or none yet), never a partial or mixed one, and what a crash left behind is
// at most one write's worth; a clean restart tidies it and catches up with the source.
func TestCrashDuringWrites(t *testing.T) {
	t.Parallel()
	bin := patasBinary(t)
	dir := t.TempDir()
	cfg, o := crashConfig(t, dir)
	const size = 256 << 10
	src := startSource(t, filepath.Join(dir, "secrets"), size, 3*time.Millisecond)
	kills := 12 // about a second each; PATAS_CRASH_KILLS=200 for the long form
	if n, err := strconv.Atoi(os.Getenv("PATAS_CRASH_KILLS")); err == nil && n > 0 {
		kills = n
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	maxTemps, maxGens := 0, 0
	seen := map[int]bool{}
	for i := range kills {
		s := startSidecar(t, bin, cfg)
		// Start-up takes a while on a loaded machine: count from the first refresh.
		waitUntil(t, 30*time.Second, "run to start", func() bool { return strings.Contains(s.stderr.String(), `"msg":"running"`) })
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		s.kill()
		gens, err := readGens(o, size)
		if err != nil {
			t.Fatalf("after kill %d: %v", i+1, err)
		}
		for _, g := range gens {
			seen[g] = true
		}

		temps, old := leftovers(t, filepath.Join(dir, "out"))
		maxTemps, maxGens = max(maxTemps, len(temps)), max(maxGens, len(old))
		// One generation was in flight at most: the engine stages every output before it
		// renames any (docs/hardening.md), so one temporary file per single-file output
		// (dotenv, shell, json), or one unfinished files generation (plus the previous
		// one, removed only after the swap).
		const singleFileOutputs = 3
		if len(temps) > singleFileOutputs || len(old) > 2 {
			t.Errorf("after kill %d: leftovers pile up: %d temporary files %v, %d stale generations %v", i+1, len(temps), temps, len(old), old)
		}
	}
	t.Logf("%d kills; %d distinct generations observed; at most %d temporary files and %d stale generations after a kill", kills, len(seen), maxTemps, maxGens)
	if len(seen) < 3 {
		t.Errorf("only %d distinct generations seen: the kills did not land during writes", len(seen))
	}

	// The source stops; a clean run catches up and leaves nothing behind.
	src.halt()
	want := src.lastGen()
	s := startSidecar(t, bin, cfg)
	waitUntil(t, 60*time.Second, "the outputs to catch up with the source", func() bool {
		gens, err := readGens(o, size)
		if err != nil {
			t.Fatalf("during the clean run: %v", err)
		}
		for _, g := range gens {
			if g != want {
				return false
			}
		}
		return true
	})
	if code := s.term(t); code != 0 {
		t.Errorf("run exited %d on SIGTERM, want 0", code)
	}
	if temps, old := leftovers(t, filepath.Join(dir, "out")); len(temps)+len(old) > 0 {
		t.Errorf("after a clean run: %d temporary files %v and %d stale generations %v left", len(temps), temps, len(old), old)
	}
	noCanary(t, map[string]string{"run's log": s.stderr.String()})
}
