package reliability

import (
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
)

// victim is a file outside the shared volume that an attacker wants the sidecar to write.
type victim struct {
	path string
	data string
	mode os.FileMode
}

func newVictim(t *testing.T, name string) victim {
	t.Helper()
	v := victim{path: filepath.Join(t.TempDir(), name), data: "victim " + name + "\n", mode: 0o644}
	if err := os.WriteFile(v.path, []byte(v.data), v.mode); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v victim) intact(t *testing.T) {
	t.Helper()
	fi, err := os.Lstat(v.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != v.mode {
		t.Errorf("victim %s: %v %v, want a regular file of mode %v", v.path, fi.Mode(), err, v.mode)
		return
	}
	if b, _ := os.ReadFile(v.path); string(b) != v.data {
		t.Errorf("victim %s was written through: it holds %d bytes", v.path, len(b))
	}
}

// attackConfig runs four outputs in out/ of dir over a file backend in secrets/.
func attackEngine(t *testing.T, dir string) *running {
	t.Helper()
	l := newLogs()
	fb, err := file.New(filepath.Join(dir, "secrets"), l.log)
	if err != nil {
		t.Fatal(err)
	}
	return startEngine(t, l, dir, `
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
`, map[string]fetcher.Backend{"src": fb}, 5*time.Second)
}

var genDirRE = regexp.MustCompile(`^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}$`)

// TestPlantedLinksBeforeStart: another container sharing the volume plants, before the
// sidecar starts, a symlink at one output, a hard link at another, a symlink at a name
// inside the files directory and at its ..data, pointing at files and a directory outside.
// The sidecar replaces each link and writes none of the targets.
func TestPlantedLinksBeforeStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for _, d := range []string{"secrets", "out/files"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets/api_key"), []byte(genValue(1, 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	sym, hard, name, victimDir := newVictim(t, "sym"), newVictim(t, "hard"), newVictim(t, "name"), t.TempDir()
	inDir := newVictim(t, "API_KEY")
	must(t, os.Symlink(sym.path, filepath.Join(out, "secrets.env")))
	must(t, os.Link(hard.path, filepath.Join(out, "secrets.json")))
	must(t, os.Symlink(name.path, filepath.Join(out, "files/API_KEY")))
	must(t, os.WriteFile(filepath.Join(victimDir, "API_KEY"), []byte(inDir.data), 0o644))
	must(t, os.Symlink(victimDir, filepath.Join(out, "files/..data")))

	r := attackEngine(t, dir)
	waitUntil(t, 30*time.Second, "the outputs", func() bool {
		gens, err := readGens(crashOutputs{env: filepath.Join(out, "secrets.env"), sh: filepath.Join(out, "secrets.sh"),
			json: filepath.Join(out, "secrets.json"), files: filepath.Join(out, "files/API_KEY")}, 100)
		return err == nil && gens[filepath.Join(out, "secrets.env")] == 1 && gens[filepath.Join(out, "files/API_KEY")] == 1 &&
			gens[filepath.Join(out, "secrets.json")] == 1
	})
	r.stop()
	for _, v := range []victim{sym, hard, name} {
		v.intact(t)
	}
	if b, _ := os.ReadFile(filepath.Join(victimDir, "API_KEY")); string(b) != inDir.data {
		t.Errorf("the file in the directory ..data pointed at was written")
	}
	if ents, _ := os.ReadDir(victimDir); len(ents) != 1 {
		t.Errorf("the directory ..data pointed at holds %d entries, want 1", len(ents))
	}
	for _, p := range []string{"secrets.env", "secrets.json"} {
		fi, err := os.Lstat(filepath.Join(out, p))
		if err != nil || !fi.Mode().IsRegular() || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
			t.Errorf("%s: %v %v, want a regular file with one link", p, fi, err)
		}
	}
	if live, err := os.Readlink(filepath.Join(out, "files/..data")); err != nil || !genDirRE.MatchString(live) {
		t.Errorf("..data points at %q (%v), want a generation of ours", live, err)
	}
}

// TestPlantedLinksDuringRun: while the secret changes every few milliseconds, an attacker
// keeps swapping symlinks and hard links to a victim in at every output path and name.
// No write ever goes through one.
func TestPlantedLinksDuringRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	must(t, os.MkdirAll(filepath.Join(out, "files"), 0o750))
	src := startSource(t, filepath.Join(dir, "secrets"), 1000, 5*time.Millisecond)
	r := attackEngine(t, dir)
	waitUntil(t, 30*time.Second, "the first outputs", func() bool {
		_, err := os.Stat(filepath.Join(out, "files/API_KEY"))
		return err == nil
	})
	sym, hard := newVictim(t, "sym"), newVictim(t, "hard")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	planted := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		targets := []string{"secrets.env", "secrets.sh", "secrets.json", "files/API_KEY"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := filepath.Join(out, targets[i%len(targets)])
			tmp := filepath.Join(out, ".attacker")
			_ = os.Remove(tmp)
			var err error
			if i%2 == 0 {
				err = os.Symlink(sym.path, tmp)
			} else {
				err = os.Link(hard.path, tmp)
			}
			if err == nil && os.Rename(tmp, p) == nil {
				planted++
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	src.halt()
	r.stop()
	sym.intact(t)
	hard.intact(t)
	t.Logf("%d links planted during %d source changes", planted, src.lastGen())
	if planted < 100 {
		t.Errorf("only %d links planted", planted)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPlantedSymlinkAtFilesDir: the files output's own path replaced by a symlink to a
// directory outside. The sidecar must not create generations, ..data or names there.
func TestPlantedSymlinkAtFilesDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	must(t, os.MkdirAll(out, 0o750))
	must(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "secrets/api_key"), []byte(genValue(1, 100)), 0o600))
	victimDir := t.TempDir()
	must(t, os.Symlink(victimDir, filepath.Join(out, "files")))
	r := attackEngine(t, dir)
	waitUntil(t, 30*time.Second, "a refresh to fail or write through", func() bool {
		ents, _ := os.ReadDir(victimDir)
		return len(ents) > 0 || len(r.logs.failures()) > 0
	})
	r.stop()
	if ents, _ := os.ReadDir(victimDir); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the sidecar wrote through the planted directory symlink: %v", names)
	}
	if f := r.logs.failures(); len(f) == 0 {
		t.Errorf("no refresh failed: the planted symlink went unreported")
	} else {
		t.Logf("reported as: %v", f[0].ContextMap()["error"])
	}
}
