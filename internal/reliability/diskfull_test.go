package reliability

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/testenv"
)

// smallTmpfs mounts a tmpfs of size bytes for the test, or stops the test (failing under
// CI=true) where mounting is not allowed.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "mounting a tmpfs (needs root or CAP_SYS_ADMIN)", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

func remount(t *testing.T, dir, how string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+how, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v %s", how, dir, err, out)
	}
}

// fill writes a file into dir until the filesystem is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{'x'}, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return p
		}
	}
}

// TestDiskFullAndReadOnly: outputs on a small tmpfs. When it is full, and then when it is
// read-only, a changed secret fails the refresh: the error is logged and counted in
// patas_secrets_output_errors_total, retried with backoff, no partial or temporary file is
// left and the old outputs stay whole. When space (or write access) returns, the sidecar
// catches up by itself.
func TestDiskFullAndReadOnly(t *testing.T) {
	t.Parallel()
	mnt := smallTmpfs(t, "512k")
	dir := t.TempDir()
	src := filepath.Join(dir, "secrets")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	const size = 64 << 10
	write := func(n int) {
		if err := os.WriteFile(filepath.Join(src, "api_key"), []byte(genValue(n, size)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	l := newLogs()
	fb, err := file.New(src, l.log)
	if err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(mnt, "out", "secrets.env")
	files := filepath.Join(mnt, "out", "files")
	r := startEngine(t, l, dir, `
environment: test
backends:
  src: {type: file, dir: secrets}
secrets:
  - {env: API_KEY, ref: "src:api_key"}
outputs:
  - {format: dotenv, path: "`+env+`", mode: "0440"}
  - {format: files, path: "`+files+`", mode: "0440"}
refresh: {interval: 1s, jitter: "10%", watch: true, max_staleness: 1h}
`, map[string]fetcher.Backend{"src": fb}, 5*time.Second)
	o := crashOutputs{env: env, files: filepath.Join(files, "API_KEY")}
	holds := func(n int) func() bool {
		return func() bool {
			b1, _ := os.ReadFile(o.env)
			b2, _ := os.ReadFile(o.files)
			v := genValue(n, size)
			return string(b1) == "API_KEY='"+v+"'\n" && string(b2) == v
		}
	}
	waitUntil(t, 30*time.Second, "the first outputs", holds(0))

	phase := func(name string, n int, breakIt, fixIt func(), cause string) {
		t.Helper()
		good := readOutputs(t, o.env, o.files)
		before := len(l.failures())
		errsBefore := testutil.ToFloat64(r.eng.Metrics.OutputErrors.WithLabelValues(env)) +
			testutil.ToFloat64(r.eng.Metrics.OutputErrors.WithLabelValues(files))
		breakIt()
		write(n)
		waitUntil(t, 30*time.Second, name+": three failed refreshes", func() bool {
			if got := readOutputs(t, o.env, o.files); got[o.env] != good[o.env] || got[o.files] != good[o.files] {
				t.Fatalf("%s: outputs changed", name)
			}
			return len(l.failures()) >= before+3
		})
		fails := l.failures()[before:]
		for _, f := range fails {
			if msg, _ := f.ContextMap()["error"].(string); !strings.Contains(msg, cause) {
				t.Errorf("%s: failure logged as %q, want it to say %q", name, msg, cause)
			}
		}
		errsAfter := testutil.ToFloat64(r.eng.Metrics.OutputErrors.WithLabelValues(env)) +
			testutil.ToFloat64(r.eng.Metrics.OutputErrors.WithLabelValues(files))
		if errsAfter-errsBefore < 3 {
			t.Errorf("%s: patas_secrets_output_errors_total rose by %v, want at least 3", name, errsAfter-errsBefore)
		}
		temps, gens := leftovers(t, filepath.Join(mnt, "out"))
		if len(temps)+len(gens) > 0 {
			t.Errorf("%s: left %v and generations %v", name, temps, gens)
		}
		fixIt()
		waitUntil(t, 30*time.Second, name+": recovery", holds(n))
		t.Logf("%s: %d failed refreshes, %v output errors counted, recovered", name, len(fails), errsAfter-errsBefore)
	}
	var filler string
	phase("disk full", 1, func() { filler = fill(t, mnt) }, func() { os.Remove(filler) }, "no space left on device")
	phase("read-only", 2, func() { remount(t, mnt, "ro") }, func() { remount(t, mnt, "rw") }, "read-only file system")
	r.stop()
	noCanary(t, map[string]string{"the log": l.String(), "/metrics": r.metrics(t)})
}
