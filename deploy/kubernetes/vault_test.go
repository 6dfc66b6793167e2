package kubernetes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/patas/patas-secrets/internal/testenv"
	"github.com/patas/patas-secrets/internal/testenv/kube"
)

// vaultBackend is the test Vault behind a TLS front on the pods' bridge, with KV v2 data at
// secret/patas, the policy and role `patas` and Kubernetes auth pointed at the cluster.
type vaultBackend struct {
	v     *testenv.Vault
	front *front
	dbURL string
}

func startVaultBackend(t *testing.T, c *kube.Cluster) *vaultBackend {
	t.Helper()
	v := testenv.StartVault(t)
	b := &vaultBackend{v: v, front: startFront(t, v.Addr, true), dbURL: appDatabase(t)}
	b.put(t, 1)
	v.CLI(t, "auth", "enable", "kubernetes")
	if out, err := v.TryCLI(v.Token, `path "secret/data/patas" { capabilities = ["read"] }`, "policy", "write", "patas", "-"); err != nil {
		t.Fatalf("vault policy write: %v\n%s", err, out)
	}
	v.CLI(t, "write", "auth/kubernetes/role/patas", "bound_service_account_names=patas",
		"bound_service_account_namespaces=patas", "policies=patas", "ttl=1h")
	return b
}

func (b *vaultBackend) put(t *testing.T, generation int) {
	t.Helper()
	b.v.CLI(t, "kv", "put", "secret/patas", "database_url="+b.dbURL, "api_keys="+apiKeys(generation),
		fmt.Sprintf("llm_api_key=canary-llm-%d", generation))
}

// configure points Vault's Kubernetes auth at the cluster's API server and CA, as a Vault
// outside the cluster: with reviewerJWT (layout b of the overlay's notes), or without, the
// pod's own token then reviewing itself (layout c, with the vault-client-tokenreview component).
func (b *vaultBackend) configure(t *testing.T, c *kube.Cluster, reviewerJWT string) {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "cluster-ca.crt")
	write(t, ca, string(c.CA.CertPEM))
	args := []string{"write", "auth/kubernetes/config", "kubernetes_host=" + kube.APIServer,
		"kubernetes_ca_cert=@" + ca, "disable_local_ca_jwt=true"}
	if reviewerJWT != "" {
		args = append(args, "token_reviewer_jwt="+reviewerJWT)
	}
	b.v.CLI(t, args...)
}

// reviewer creates Vault's own reviewer ServiceAccount (bound to system:auth-delegator) and
// returns a token for it.
func reviewer(t *testing.T, c *kube.Cluster) string {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, _ = c.Kubectl(ctx, "delete", "namespace", "vault", "--ignore-not-found", "--wait=true")
		_, _ = c.Kubectl(ctx, "delete", "clusterrolebinding", "vault-reviewer", "--ignore-not-found")
	})
	kubectl(t, c, "create", "namespace", "vault")
	kubectl(t, c, "-n", "vault", "create", "serviceaccount", "vault-reviewer")
	kubectl(t, c, "create", "clusterrolebinding", "vault-reviewer", "--clusterrole=system:auth-delegator", "--serviceaccount=vault:vault-reviewer")
	return strings.TrimSpace(kubectl(t, c, "-n", "vault", "create", "token", "vault-reviewer", "--duration=2h"))
}

var refreshLine = regexp.MustCompile(`(?m)^refresh: .*$`)

// vaultDeployment: the vault overlay with the front's address, and (for the outage tests) a
// short interval and max_staleness (2s, 40s: it must exceed interval × 1.1 + the 30s read_timeout) in place of 5m and 1h.
func vaultDeployment(b *vaultBackend, comps ...string) deployment {
	return deployment{
		overlay: "vault",
		config: func(s string) string {
			s = strings.Replace(s, "https://vault.vault.svc:8200", b.front.URL(), 1)
			return refreshLine.ReplaceAllString(s, "refresh: {interval: 2s, jitter: 10%, watch: true, max_staleness: 40s}")
		},
		extra: []string{caConfigMap(b.front.CAPEM)},
		comps: comps,
	}
}

// TestVaultOverlay: the vault overlay against a real Vault whose Kubernetes auth reviews the
// pods' projected tokens through a real TokenReview with its own reviewer token, through the
// pod's life: backend down at start, login, outage longer than max_staleness with a sidecar
// restart in it, recovery.
func TestVaultOverlay(t *testing.T) {
	c := cluster(t)
	b := startVaultBackend(t, c)
	b.configure(t, c, reviewer(t, c))

	b.front.Down()
	apply(t, c, vaultDeployment(b))
	t.Run("BackendDownAtPodStart", func(t *testing.T) {
		for _, name := range waitInitFailed(t, c, 2) {
			t.Logf("%s: patas-secrets-once failed closed; the pod waits in Init", name)
		}
		b.front.Up(t)
		waitRollout(t, c)
	})
	ps := pods(t, c)
	t.Run("KubernetesAuthThroughTokenReview", func(t *testing.T) {
		for _, p := range ps {
			checkApp(t, p.Status.PodIP)
		}
		if logs := b.v.Logs(); strings.Contains(logs, "canary-") {
			t.Errorf("Vault's log shows a secret value")
		}
	})
	t.Run("OutageLongerThanMaxStaleness", func(t *testing.T) { outage(t, c, b, ps[0]) })
}

// waitInitFailed waits until n pods have had patas-secrets-once exit non-zero with the app not
// started and no env file written.
func waitInitFailed(t *testing.T, c *kube.Cluster, n int) []string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var failed []string
		for _, p := range pods(t, c) {
			once := status(p, "patas-secrets-once")
			term := once.LastTerminationState.Terminated
			if term == nil {
				term = once.State.Terminated
			}
			if term == nil || term.ExitCode == 0 {
				continue
			}
			if s := status(p, "patas"); s.State.Running != nil || p.Status.Phase != corev1.PodPending {
				t.Fatalf("%s: the app runs although patas-secrets-once failed (phase %s)", p.Name, p.Status.Phase)
			}
			if _, err := os.Stat(filepath.Join(c.EmptyDir(string(p.UID), "patas-run"), "secrets.env")); err == nil {
				t.Fatalf("%s: an env file exists although patas-secrets-once failed", p.Name)
			}
			failed = append(failed, p.Name)
		}
		if len(failed) >= n {
			return failed
		}
		if time.Now().After(deadline) {
			t.Fatalf("patas-secrets-once did not fail in %d pods with the backend down\n%s", n, describe(c))
		}
		sleepCtx(context.Background(), time.Second)
	}
}

// outage: Vault unreachable for longer than max_staleness, the sidecar killed in the middle of
// it: the sidecar is restarted once and stays (no restart loop: its startup and liveness
// probes ask "alive", not "fresh"), the app keeps serving, and the outputs refresh when Vault
// is back.
func outage(t *testing.T, c *kube.Cluster, b *vaultBackend, p corev1.Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	tr := startTraffic(t, c)
	b.front.Down()
	// Barrier: the sidecar itself says its outputs are stale (older than max_staleness).
	for {
		out, err := ready(ctx, c, p.Name)
		if err != nil {
			if strings.Contains(err.Error(), "unknown flag") {
				t.Fatalf("patas-secrets health has no --ready: %v", err)
			}
			t.Logf("health --ready after the outage began: %s", strings.TrimSpace(out+" "+err.Error()))
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the sidecar never reported stale outputs")
		}
		sleepCtx(ctx, time.Second)
	}
	restarts := status(p, "patas-secrets").RestartCount
	before := probeCounts(t, c, p.Name)
	if err := c.KillContainer(ctx, status(p, "patas-secrets").ContainerID); err != nil {
		t.Fatal(err)
	}
	// Barrier: three liveness probes after the restarted sidecar started (a failing one would
	// kill it after failureThreshold 3).
	for {
		now := podNamed(t, c, p.Name)
		s := status(now, "patas-secrets")
		after := probeCounts(t, c, p.Name)
		if s.RestartCount > restarts+1 {
			t.Fatalf("the sidecar restarts in a loop during the outage: %d restarts\n%s", s.RestartCount-restarts, describe(c))
		}
		if s.RestartCount == restarts+1 && s.Started != nil && *s.Started && after["Liveness/successful"] >= before["Liveness/successful"]+3 {
			if after["Liveness/failed"] != before["Liveness/failed"] || after["Startup/failed"] > before["Startup/failed"]+1 {
				t.Errorf("probes failed during the outage: before %v, after %v", before, after)
			}
			t.Logf("sidecar restarted once during the outage and stayed up; probes before %v after %v", before, after)
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the sidecar did not come back during the outage (restarts %d)\n%s", s.RestartCount-restarts, describe(c))
		}
		sleepCtx(ctx, 2*time.Second)
	}
	t.Logf("during the outage: requests sent %d, failed %d", tr.Sent.Load(), tr.Failed.Load())
	// The secret rotates while the pods cannot reach Vault. When Vault is back both sidecars
	// read it within the same second or two (2 s interval) and both replicas restart PATAS
	// together: no endpoint is left to route around them, so 0 failed requests below rests
	// on exec --listen keeping the port open across the restarts.
	b.put(t, 2)
	b.front.Up(t)
	// Recovery: every sidecar reports fresh outputs again (the outage outlasted
	// max_staleness, so a passing `health --ready` is a refresh after Vault came back), and
	// both apps serve the rotated key.
	for _, q := range pods(t, c) {
		for {
			if _, err := ready(ctx, c, q.Name); err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: the sidecar did not report fresh outputs after Vault came back\n%s", q.Name, describe(c))
			}
			sleepCtx(ctx, time.Second)
		}
	}
	for _, q := range pods(t, c) {
		waitKey(t, q.Status.PodIP, newKey, 3*time.Minute)
	}
	waitReadyEndpoints(t, tr, 2)
	tr.stop()
	t.Logf("outage: requests sent %d, failed %d, retried on the other replica (refused or reset) %d", tr.Sent.Load(), tr.Failed.Load(), tr.Retried.Load())
	if tr.Failed.Load() != 0 {
		t.Errorf("%d of %d requests failed (last: %v)", tr.Failed.Load(), tr.Sent.Load(), tr.LastErr())
	}
	if n := status(podNamed(t, c, p.Name), "patas").RestartCount; n != status(p, "patas").RestartCount {
		t.Errorf("the app container was restarted during the outage")
	}
}

// ready runs `patas-secrets health --ready` in pod's sidecar: nil when its outputs are fresh.
func ready(ctx context.Context, c *kube.Cluster, pod string) (string, error) {
	return c.Kubectl(ctx, "-n", ns, "exec", pod, "-c", "patas-secrets", "--",
		"/usr/local/bin/patas-secrets", "health", "--ready", "--config", "/etc/patas-secrets/config.yaml")
}

func podNamed(t *testing.T, c *kube.Cluster, name string) corev1.Pod {
	t.Helper()
	for _, p := range pods(t, c) {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no pod %s", name)
	return corev1.Pod{}
}

var probeLine = regexp.MustCompile(`^prober_probe_total\{([^}]*)\} (\S+)$`)

// probeCounts reads the kubelet's prober_probe_total for the sidecar of pod, by
// "ProbeType/result".
func probeCounts(t *testing.T, c *kube.Cluster, pod string) map[string]int {
	t.Helper()
	out, err := c.KubeletGet(t.Context(), "/metrics/probes")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		m := probeLine.FindStringSubmatch(line)
		if m == nil || !strings.Contains(m[1], `container="patas-secrets"`) || !strings.Contains(m[1], fmt.Sprintf(`pod="%s"`, pod)) {
			continue
		}
		typ, result := label(m[1], "probe_type"), label(m[1], "result")
		n, _ := strconv.ParseFloat(m[2], 64)
		counts[typ+"/"+result] += int(n)
	}
	return counts
}

func label(labels, name string) string {
	m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(labels)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestVaultClientTokenComponent: Vault outside the cluster without a reviewer token; the
// opt-in component binds the pod's ServiceAccount to system:auth-delegator so that its own
// token passes the TokenReview. Without the component the login is refused (the pod waits in
// Init); with it, the pod starts by itself.
func TestVaultClientTokenComponent(t *testing.T) {
	c := cluster(t)
	b := startVaultBackend(t, c)
	b.configure(t, c, "")
	apply(t, c, vaultDeployment(b))
	waitInitFailed(t, c, 1)
	apply(t, c, vaultDeployment(b, "vault-client-tokenreview"))
	waitRollout(t, c)
	for _, p := range pods(t, c) {
		checkApp(t, p.Status.PodIP)
	}
}
