package deploy_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// rendered is one kustomize output, decoded.
type rendered struct {
	deployment   *appsv1.Deployment
	serviceAcct  *corev1.ServiceAccount
	configMaps   []*corev1.ConfigMap
	bindings     []*rbacv1.ClusterRoleBinding
	kinds        []string
	namespaceSet map[string]bool
}

// kustomize renders dir with `kubectl kustomize` and decodes every object strictly into its
// k8s.io/api type: an unknown or misspelt field fails.
func kustomize(t *testing.T, dir string) rendered {
	t.Helper()
	kubectl := testenv.Binary(t, "PATAS_TEST_KUBECTL", "kubectl", "install kubectl (it renders kustomizations offline)")
	out := command(t, repoRoot(t), kubectl, "kustomize", dir)
	r := rendered{namespaceSet: map[string]bool{}}
	for i, doc := range strings.Split(out, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		obj, err := typed(meta.APIVersion, meta.Kind)
		if err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s %s: strict decode: %v", meta.APIVersion, meta.Kind, err)
		}
		r.kinds = append(r.kinds, meta.Kind)
		if meta.Metadata.Namespace != "" {
			r.namespaceSet[meta.Metadata.Namespace] = true
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.deployment = o
		case *corev1.ServiceAccount:
			r.serviceAcct = o
		case *corev1.ConfigMap:
			r.configMaps = append(r.configMaps, o)
		case *rbacv1.ClusterRoleBinding:
			r.bindings = append(r.bindings, o)
		}
	}
	return r
}

func typed(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}, nil
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		return &rbacv1.RoleBinding{}, nil
	case "rbac.authorization.k8s.io/v1 Role":
		return &rbacv1.Role{}, nil
	}
	return nil, fmt.Errorf("no k8s.io/api type known here for %s %s: add it to typed()", apiVersion, kind)
}

func TestKubernetesOverlays(t *testing.T) {
	tests := []struct {
		overlay     string
		annotation  string // on the ServiceAccount
		wantBinding bool   // system:auth-delegator for Vault's TokenReview
		backend     string // the config's backend type
	}{
		{overlay: "file", backend: "file"},
		{overlay: "vault", backend: "vault"}, // the binding is the opt-in component vault-client-tokenreview
		{overlay: "aws", annotation: "eks.amazonaws.com/role-arn", backend: "aws"},
		{overlay: "gcp", annotation: "iam.gke.io/gcp-service-account", backend: "gcp"},
	}
	for _, tc := range tests {
		t.Run(tc.overlay, func(t *testing.T) {
			r := kustomize(t, filepath.Join("deploy", "kubernetes", "overlays", tc.overlay))
			if r.deployment == nil || r.serviceAcct == nil {
				t.Fatalf("got kinds %v, want a Deployment and a ServiceAccount", r.kinds)
			}
			if len(r.namespaceSet) != 1 || !r.namespaceSet["patas"] {
				t.Errorf("got namespaces %v, want everything in patas", r.namespaceSet)
			}
			checkPod(t, r.deployment)
			if tc.annotation != "" && r.serviceAcct.Annotations[tc.annotation] == "" {
				t.Errorf("ServiceAccount annotations %v lack %s", r.serviceAcct.Annotations, tc.annotation)
			}
			checkBinding(t, r.bindings, tc.wantBinding)
			checkConfigMap(t, r, tc.backend)
		})
	}
}

// checkPod holds the pod to the shape in docs/deploy.md.
func checkPod(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "patas" {
		t.Errorf("serviceAccountName: got %q, want patas", pod.ServiceAccountName)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot is not true")
	}

	var names []string
	for _, c := range pod.InitContainers {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, ","), "patas-secrets-install,patas-secrets-once,patas-secrets"; got != want {
		t.Fatalf("init containers: got %s, want %s", got, want)
	}
	install, once, sidecar := pod.InitContainers[0], pod.InitContainers[1], pod.InitContainers[2]
	if install.Args[0] != "install" || once.Args[0] != "once" || sidecar.Args[0] != "run" {
		t.Errorf("init container commands: got %v, %v, %v; want install, once, run", install.Args, once.Args, sidecar.Args)
	}
	if install.RestartPolicy != nil || once.RestartPolicy != nil {
		t.Errorf("install and once must be plain init containers (no restartPolicy)")
	}
	if sidecar.RestartPolicy == nil || *sidecar.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("sidecar restartPolicy: got %v, want Always (a native sidecar)", sidecar.RestartPolicy)
	}
	// Liveness semantics for both (issue 14): a sidecar restarted during an outage, with good
	// outputs on the volume, must start and stay; the listener is on loopback, hence exec.
	for name, p := range map[string]*corev1.Probe{"startupProbe": sidecar.StartupProbe, "livenessProbe": sidecar.LivenessProbe} {
		if p == nil || p.Exec == nil || !slices.Contains(p.Exec.Command, "health") || slices.Contains(p.Exec.Command, "--ready") {
			t.Errorf("sidecar %s: got %+v, want exec `patas-secrets health` (liveness, not --ready)", name, p)
		}
	}
	if sidecar.ReadinessProbe != nil {
		t.Errorf("sidecar readinessProbe: a stale sidecar must not take the pod out of the Service")
	}
	if psc := pod.SecurityContext; psc.RunAsUser != nil || psc.FSGroup == nil {
		t.Errorf("pod securityContext: runAsUser %v fsGroup %v; want no pod-wide uid and an fsGroup", psc.RunAsUser, psc.FSGroup)
	}
	if d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxUnavailable == nil ||
		d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rollingUpdate.maxUnavailable: want 0")
	}

	if len(pod.Containers) != 1 {
		t.Fatalf("got %d app containers, want 1 (PATAS)", len(pod.Containers))
	}
	app := pod.Containers[0]
	if app.ReadinessProbe == nil {
		t.Errorf("PATAS has no readinessProbe: a restart on rotation would get traffic")
	}
	if sc := app.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 65532 {
		t.Errorf("PATAS securityContext.runAsUser: want its own uid, not the sidecar's 65532")
	}
	if len(app.Command) < 5 || app.Command[0] != "/patas/bin/patas-secrets" || app.Command[1] != "exec" || app.Command[len(app.Command)-1] != "--" {
		t.Errorf("PATAS command: got %v, want /patas/bin/patas-secrets exec --env-file ... --", app.Command)
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	run, ok := volumes["patas-run"]
	if !ok || run.EmptyDir == nil || run.EmptyDir.Medium != corev1.StorageMediumMemory {
		t.Errorf("patas-run: got %+v, want an emptyDir with medium Memory", run)
	} else if l := run.EmptyDir.SizeLimit; l == nil || l.Value() < 3<<20 {
		t.Errorf("patas-run sizeLimit %v: want room for a 1 MiB secret, its temporary copy and more", l)
	}

	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", c.Name)
			continue
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: readOnlyRootFilesystem is not true", c.Name)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("%s: runAsNonRoot is not true", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: allowPrivilegeEscalation is not false", c.Name)
		case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
			t.Errorf("%s: capabilities: got %+v, want drop ALL", c.Name, sc.Capabilities)
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: no cpu and memory requests", c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: no memory limit", c.Name)
		}
		mounted := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("%s mounts %s, which is not a volume of the pod", c.Name, m.Name)
			}
			mounted[m.Name] = true
		}
		if strings.HasPrefix(c.Name, "patas-secrets") && c.Name != "patas-secrets-install" && !mounted["patas-run"] {
			t.Errorf("%s does not mount patas-run", c.Name)
		}
	}
}

func checkBinding(t *testing.T, bindings []*rbacv1.ClusterRoleBinding, want bool) {
	t.Helper()
	if !want {
		if len(bindings) != 0 {
			t.Errorf("got %d ClusterRoleBindings, want none", len(bindings))
		}
		return
	}
	if len(bindings) != 1 {
		t.Fatalf("got %d ClusterRoleBindings, want one for system:auth-delegator", len(bindings))
	}
	b := bindings[0]
	if b.RoleRef.Name != "system:auth-delegator" || len(b.Subjects) != 1 ||
		b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != "patas" || b.Subjects[0].Namespace != "patas" {
		t.Errorf("binding: got %+v -> %+v, want system:auth-delegator for patas/patas", b.RoleRef, b.Subjects)
	}
}

// checkConfigMap parses the patas-secrets config through the real config package, and checks
// the Deployment mounts the generated (hashed) name.
func checkConfigMap(t *testing.T, r rendered, backend string) {
	t.Helper()
	if len(r.configMaps) != 1 {
		t.Fatalf("got %d ConfigMaps, want 1", len(r.configMaps))
	}
	cm := r.configMaps[0]
	data, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml", cm.Name)
	}
	cfg, err := config.Parse([]byte(data), "/etc/patas-secrets", allbackends.Registry())
	if err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	if cfg != nil && !strings.HasPrefix(cfg.Listen, "127.0.0.1:") {
		t.Errorf("listen %q: want loopback (the probes run in the container; metrics name every ref)", cfg.Listen)
	}
	if cfg != nil {
		for name, b := range cfg.Backends {
			if b.Type != backend {
				t.Errorf("backend %s: got type %s, want %s", name, b.Type, backend)
			}
		}
	}
	if !bytes.Contains([]byte(data), []byte("/run/patas/secrets.env")) {
		t.Errorf("config.yaml does not write /run/patas/secrets.env, where PATAS's exec reads it")
	}
	found := false
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
			found = true
		}
	}
	if !found {
		t.Errorf("no volume mounts ConfigMap %s", cm.Name)
	}
}
