package kubernetes_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestPodSecurityRestricted: the pod of every shipped overlay, created (server-side dry run)
// in the namespace the manifests label pod-security.kubernetes.io/enforce: restricted, is
// admitted by the real PodSecurity admission; a privileged pod is refused. PodSecurity
// enforces on Pods only (a Deployment gets a warning), hence the pod made from each template.
func TestPodSecurityRestricted(t *testing.T) {
	c := cluster(t)
	base := filepath.Join(repoRoot(t), "deploy", "kubernetes", "base")
	t.Cleanup(func() { deleteNamespace(t, c) })
	kubectl(t, c, "apply", "-f", filepath.Join(base, "namespace.yaml"))
	kubectl(t, c, "-n", ns, "apply", "-f", filepath.Join(base, "serviceaccount.yaml"))
	labels := kubectl(t, c, "get", "namespace", ns, "-o", "jsonpath={.metadata.labels}")
	if !strings.Contains(labels, `"pod-security.kubernetes.io/enforce":"restricted"`) {
		t.Fatalf("namespace labels %s lack enforce: restricted", labels)
	}
	for _, overlay := range []string{"file", "vault", "aws", "gcp"} {
		t.Run(overlay, func(t *testing.T) {
			rendered, err := exec.Command(c.KubectlPath(), "kustomize", filepath.Join(repoRoot(t), "deploy", "kubernetes", "overlays", overlay)).Output()
			if err != nil {
				t.Fatalf("kubectl kustomize: %v", err)
			}
			var pod *corev1.Pod
			for _, doc := range strings.Split(string(rendered), "\n---\n") {
				if !strings.Contains(doc, "kind: Deployment") {
					continue
				}
				var d appsv1.Deployment
				if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
					t.Fatal(err)
				}
				pod = &corev1.Pod{
					TypeMeta:   metav1TypeMeta(),
					ObjectMeta: d.Spec.Template.ObjectMeta,
					Spec:       d.Spec.Template.Spec,
				}
				pod.Name, pod.Namespace = "admission-"+overlay, ns
			}
			if pod == nil {
				t.Fatal("no Deployment rendered")
			}
			b, _ := json.Marshal(pod)
			ctxOut, err := c.KubectlIn(t.Context(), string(b), "create", "--dry-run=server", "-o", "name", "-f", "-")
			if err != nil {
				t.Fatalf("the %s pod was refused: %v", overlay, err)
			}
			t.Logf("admitted: %s", strings.TrimSpace(ctxOut))
		})
	}
	t.Run("PrivilegedRefused", func(t *testing.T) {
		privileged := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"privileged","namespace":"patas"},
"spec":{"containers":[{"name":"c","image":"patas-secrets:local","imagePullPolicy":"Never","securityContext":{"privileged":true}}]}}`
		_, err := c.KubectlIn(t.Context(), privileged, "create", "-f", "-")
		if err == nil {
			t.Fatal("a privileged pod was admitted in the restricted namespace")
		}
		if !strings.Contains(err.Error(), `violates PodSecurity "restricted`) {
			t.Fatalf("refused for another reason: %v", err)
		}
	})
}

func metav1TypeMeta() metav1.TypeMeta { return metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"} }
