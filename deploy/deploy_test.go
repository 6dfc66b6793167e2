// Package deploy_test checks the deployment artefacts for real where this machine can: the
// image built from the Dockerfile and run read-only as non-root, docker-compose end to end,
// the Swarm stack on a one-node swarm, every Kubernetes overlay rendered by kustomize and
// decoded strictly into k8s.io/api types, and the ECS task definition registered on moto.
package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/patas/patas-secrets/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopMoto()
	os.Exit(code)
}

// repoRoot is the module's root directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the source directory")
	}
	return filepath.Dir(filepath.Dir(file))
}

// command runs name with args in dir and returns its combined output; a failure fails t.
func command(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
