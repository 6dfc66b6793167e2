package deploy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

const dockerHow = "start a Docker Engine (the tests build every image locally; no registry needed)"

// Image names the tests build; docker-compose.yml uses the same ones.
const (
	secretsImage = "patas-secrets:local"
	standinImage = "patas-standin:local"
)

// docker returns the docker CLI once the engine answers; otherwise it calls Missing.
func docker(t testing.TB) string {
	t.Helper()
	bin := testenv.Binary(t, "PATAS_TEST_DOCKER", "docker", dockerHow)
	if out, err := exec.Command(bin, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		testenv.Missing(t, "a Docker Engine", dockerHow+": "+strings.TrimSpace(string(out)))
	}
	return bin
}

var built struct {
	once sync.Once
	err  string
}

// buildImages builds patas-secrets:local and patas-standin:local from the real Dockerfile
// once per test binary (the engine's layer cache makes a rebuild of the same source quick).
// The builder stage gets $PATAS_GO_IMAGE, else a builder made from this machine's Go by
// deploy/test/builder-image.sh. The modules are vendored into a temporary copy of the
// context (never into the checkout): the host has them already, while a download inside the
// build took minutes here. PATAS_DOCKER_VENDOR=0 builds the checkout itself, downloading in
// the build container, when that reaches the Go module proxy.
func buildImages(t testing.TB) {
	t.Helper()
	bin := docker(t)
	built.once.Do(func() { built.err = build(t, bin) })
	if built.err != "" {
		t.Fatal(built.err)
	}
}

func build(t testing.TB, bin string) string {
	root := repoRoot(t)
	goImage := os.Getenv("PATAS_GO_IMAGE")
	proxy := os.Getenv("PATAS_DOCKER_PROXY") // reachable or unreachable, from scripts/prepare.d/docker.sh
	if goImage == "" || proxy == "" {
		cmd := exec.Command(filepath.Join(root, "deploy", "test", "builder-image.sh"))
		cmd.Env = append(os.Environ(), "PATAS_BUILDER_CHECK_PROXY=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "deploy/test/builder-image.sh: " + err.Error() + "\n" + stderr.String()
		}
		lines := strings.Fields(string(out))
		if goImage == "" {
			goImage = lines[0]
		}
		if proxy == "" && len(lines) > 1 {
			proxy = strings.TrimPrefix(lines[1], "proxy=")
		}
	}

	context, args := root, []string{"--build-arg", "GO_IMAGE=" + goImage, "--build-arg", "VERSION=test"}
	t.Logf("build containers: Go module proxy %s", proxy)
	if proxy != "reachable" || os.Getenv("PATAS_DOCKER_VENDOR") != "0" {
		dir, err := os.MkdirTemp("", "patas-docker-context-")
		if err != nil {
			return err.Error()
		}
		defer os.RemoveAll(dir)
		if msg := vendoredContext(root, dir); msg != "" {
			return msg
		}
		context = dir
		args = append(args, "--build-arg", "GOPROXY=off")
		t.Logf("building a copy of the sources with vendored modules")
	}
	for _, b := range []struct{ tag, target string }{{secretsImage, ""}, {standinImage, "standin"}} {
		a := append([]string{"build", "-q", "-t", b.tag}, args...)
		if b.target != "" {
			a = append(a, "--target", b.target)
		}
		start := time.Now()
		cmd := exec.Command(bin, append(a, context)...)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0") // the classic builder: no BuildKit frontend to pull
		if out, err := cmd.CombinedOutput(); err != nil {
			return "docker build " + b.tag + ": " + err.Error() + "\n" + string(out)
		}
		t.Logf("built %s with %s in %v", b.tag, goImage, time.Since(start).Round(time.Second))
	}
	return ""
}

// vendoredContext copies the build context (what .dockerignore lets through is all a build
// reads; copying the tracked files is enough) to dir and vendors the modules there.
func vendoredContext(root, dir string) string {
	files, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return "listing the sources: " + err.Error()
	}
	for _, f := range strings.Split(strings.TrimSpace(string(files)), "\n") {
		src := filepath.Join(root, f)
		st, err := os.Lstat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err.Error()
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err.Error()
		}
		// The source's mode, as cp in scripts/prepare.d/docker.sh keeps it: the build
		// cache compares modes, so both copies must match for a cache hit.
		if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
			return err.Error()
		}
		if err := os.Chmod(dst, st.Mode().Perm()); err != nil {
			return err.Error()
		}
	}
	cmd := exec.Command("go", "mod", "vendor")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "go mod vendor: " + err.Error() + "\n" + string(out)
	}
	return ""
}

// sampleSecrets copies examples/secrets to a directory a container user can read.
func sampleSecrets(t testing.TB) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "examples", "secrets")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeSecret(t, dir, e.Name(), string(data))
	}
	return dir
}

// writeSecret replaces one source file atomically, the way an operator's tooling would.
func writeSecret(t testing.TB, dir, name, value string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(value), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// fingerprint is what deploy/standin reports for a value.
func fingerprint(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// removeContainer removes a container the test started, whatever its state.
func removeContainer(bin, name string) {
	_ = exec.Command(bin, "rm", "-f", "-v", name).Run()
}
