// Package kubernetes_test applies the shipped manifests, unchanged except for the image names,
// the backend's address and the app's start command, to a real single-node Kubernetes
// (internal/testenv/kube) and tests the pod's whole life: start order, a Secret rotated with
// kubectl apply under traffic, Vault's Kubernetes auth through a real TokenReview, the sidecar
// killed, backend outages, and the PodSecurity "restricted" admission.
package kubernetes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
	"github.com/patas/patas-secrets/internal/testenv/kube"
)

func TestMain(m *testing.M) {
	code := kube.Main(m)
	testenv.StopMoto()
	os.Exit(code)
}

const ns = "patas" // the manifests' namespace

// The images under test: the real Dockerfile's (scripts/prepare.d/docker.sh builds both).
func secretsImage() string { return envOr("PATAS_TEST_KUBE_SECRETS_IMAGE", "patas-secrets:local") }
func appImage() string     { return envOr("PATAS_TEST_KUBE_APP_IMAGE", "patas-app:local") }

// The start command of the PATAS-shaped app (deploy/app; the manifest's is PATAS's uvicorn
// line), on the socket exec --listen hands over as fd 3, as the manifest's `--fd 3`.
var appArgs = []string{"python3", "/app/app.py", "--fd", "3"}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

var loaded struct {
	once sync.Once
	err  error
}

// cluster returns the shared cluster with the images loaded.
func cluster(t *testing.T) *kube.Cluster {
	t.Helper()
	c := kube.Shared(t)
	for _, img := range []string{secretsImage(), appImage()} {
		if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
			testenv.Missing(t, "image "+img, "run scripts/test.sh (scripts/prepare.d/docker.sh and patas-app.sh build them)")
		}
	}
	loaded.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		loaded.err = c.LoadImages(ctx, secretsImage(), appImage())
	})
	if loaded.err != nil {
		t.Fatalf("loading images: %v", loaded.err)
	}
	return c
}

func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the source directory")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// kubectl runs kubectl and fails t on an error.
func kubectl(t testing.TB, c *kube.Cluster, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := c.Kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kubectlIn(t testing.TB, c *kube.Cluster, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := c.KubectlIn(ctx, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deployment is one shipped overlay as a test applies it.
type deployment struct {
	overlay string              // deploy/kubernetes/overlays/NAME
	config  func(string) string // edits the overlay's patas-secrets.yaml (the backend's address)
	extra   []string            // more objects (the test's Secret, a ConfigMap with a CA)
	comps   []string            // components to add, e.g. vault-client-tokenreview
	ops     string              // more JSON patch operations on the Deployment (YAML list items)
	wait    bool                // wait for the rollout
}

// apply renders the overlay through a kustomization that only swaps the images, the app's start
// command and (through config) the backend's address, applies it, and deletes the namespace
// when the test ends.
func apply(t *testing.T, c *kube.Cluster, d deployment) string {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	overlay := filepath.Join(root, "deploy", "kubernetes", "overlays", d.overlay)
	rel, err := filepath.Rel(dir, overlay)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(overlay, "patas-secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	if d.config != nil {
		text = d.config(text)
	}
	write(t, filepath.Join(dir, "patas-secrets.yaml"), text)
	resources := []string{rel}
	for i, obj := range d.extra {
		name := fmt.Sprintf("extra-%d.yaml", i)
		write(t, filepath.Join(dir, name), obj)
		resources = append(resources, name)
	}
	var comps []string
	for _, comp := range d.comps {
		r, err := filepath.Rel(dir, filepath.Join(root, "deploy", "kubernetes", "components", comp))
		if err != nil {
			t.Fatal(err)
		}
		comps = append(comps, r)
	}
	sName, sTag := splitImage(secretsImage())
	aName, aTag := splitImage(appImage())
	args, _ := json.Marshal(appArgs)
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: %s
components: %s
images:
  - {name: patas-secrets, newName: %q, newTag: %q}
  - {name: patas, newName: %q, newTag: %q}
configMapGenerator:
  - name: patas-secrets-config
    behavior: replace
    files: [config.yaml=patas-secrets.yaml]
patches:
  - target: {kind: Deployment, name: patas}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/args
        value: %s
%s`, jsonList(resources), jsonList(comps), sName, sTag, aName, aTag, args, d.ops)
	write(t, filepath.Join(dir, "kustomization.yaml"), k)
	t.Cleanup(func() { deleteNamespace(t, c) })
	out := kubectl(t, c, "apply", "-k", dir)
	t.Logf("kubectl apply -k (overlay %s):\n%s", d.overlay, out)
	if d.wait {
		waitRollout(t, c)
	}
	return dir
}

func waitRollout(t *testing.T, c *kube.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := c.Kubectl(ctx, "-n", ns, "rollout", "status", "deployment/patas", "--timeout=4m"); err != nil {
		t.Fatalf("%v\n%s", err, describe(c))
	}
}

// describe is what a failing test prints about the pods.
func describe(c *kube.Cluster) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b strings.Builder
	out, _ := c.Kubectl(ctx, "-n", ns, "get", "pods", "-o", "wide")
	b.WriteString(out)
	out, _ = c.Kubectl(ctx, "-n", ns, "describe", "pods")
	if len(out) > 8000 {
		out = out[len(out)-8000:]
	}
	b.WriteString(out)
	for _, p := range podNames(ctx, c) {
		for _, ctr := range []string{"patas-secrets-once", "patas-secrets", "patas"} {
			out, _ := c.Kubectl(ctx, "-n", ns, "logs", p, "-c", ctr, "--tail=20")
			prev, _ := c.Kubectl(ctx, "-n", ns, "logs", p, "-c", ctr, "--tail=20", "--previous")
			fmt.Fprintf(&b, "--- %s/%s:\n%s%s", p, ctr, prev, out)
		}
	}
	return b.String()
}

func podNames(ctx context.Context, c *kube.Cluster) []string {
	out, _ := c.Kubectl(ctx, "-n", ns, "get", "pods", "-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

func deleteNamespace(t *testing.T, c *kube.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := c.Kubectl(ctx, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=150s"); err != nil {
		t.Errorf("deleting namespace %s: %v", ns, err)
	}
	_, _ = c.Kubectl(ctx, "delete", "clusterrolebinding", "patas-vault-tokenreview", "--ignore-not-found")
}

func splitImage(ref string) (name, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}

func jsonList(s []string) string {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func write(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
