package kubernetes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/patas/patas-secrets/internal/testenv/kube"
)

// fileSecret is the Secret the file overlay mounts, in a generation.
func fileSecret(dbURL string, generation int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: patas-secrets-files
  namespace: patas
type: Opaque
stringData:
  database_url: %s
  api_keys: %s
  llm_api_key: canary-llm-%d
`, yamlQuote(dbURL), yamlQuote(apiKeys(generation)), generation)
}

// TestFileOverlay runs the file overlay (a Kubernetes Secret volume as the backend) with 2
// replicas and goes through the pod's life on it.
func TestFileOverlay(t *testing.T) {
	c := cluster(t)
	dbURL := appDatabase(t)
	apply(t, c, deployment{overlay: "file", extra: []string{fileSecret(dbURL, 1)}, wait: true})
	ps := pods(t, c)
	if len(ps) != 2 {
		t.Fatalf("got %d pods, want 2", len(ps))
	}

	t.Run("StartOrder", func(t *testing.T) {
		for _, p := range ps {
			checkStartOrder(t, p)
		}
	})
	t.Run("AppReadsEnvFileAsItsOwnUser", func(t *testing.T) {
		for _, p := range ps {
			checkApp(t, p.Status.PodIP)
			checkUsers(t, c, p)
		}
	})
	t.Run("SecretRotationUnderTraffic", func(t *testing.T) { secretRotation(t, c, ps, dbURL) })
	t.Run("SidecarKilled", func(t *testing.T) { sidecarKilled(t, c, ps[0]) })
}

// checkStartOrder: install -> once -> sidecar (started, i.e. its startupProbe passed) -> app.
func checkStartOrder(t *testing.T, p corev1.Pod) {
	t.Helper()
	install, once := status(p, "patas-secrets-install"), status(p, "patas-secrets-once")
	sidecar, app := status(p, "patas-secrets"), status(p, "patas")
	for _, s := range []corev1.ContainerStatus{install, once} {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			t.Fatalf("%s/%s: got state %+v, want terminated with exit 0", p.Name, s.Name, s.State)
		}
	}
	if sidecar.State.Running == nil || sidecar.Started == nil || !*sidecar.Started {
		t.Fatalf("%s: sidecar state %+v started %v, want running and started", p.Name, sidecar.State, sidecar.Started)
	}
	if app.State.Running == nil {
		t.Fatalf("%s: app state %+v, want running", p.Name, app.State)
	}
	steps := []struct {
		what string
		at   time.Time
	}{
		{"install finished", install.State.Terminated.FinishedAt.Time},
		{"once started", once.State.Terminated.StartedAt.Time},
		{"once finished", once.State.Terminated.FinishedAt.Time},
		{"sidecar started", sidecar.State.Running.StartedAt.Time},
		{"app started", app.State.Running.StartedAt.Time},
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].at.Before(steps[i-1].at) {
			t.Errorf("%s: %s at %s before %s at %s", p.Name, steps[i].what, steps[i].at, steps[i-1].what, steps[i-1].at)
		}
	}
	t.Logf("%s: install finished %s, once %s-%s, sidecar started %s, app started %s", p.Name,
		steps[0].at.Format(time.TimeOnly), steps[1].at.Format(time.TimeOnly), steps[2].at.Format(time.TimeOnly),
		steps[3].at.Format(time.TimeOnly), steps[4].at.Format(time.TimeOnly))
}

// checkUsers: the sidecar runs as 65532, the app (and the exec wrapper) as 10001 with the
// pod's fsGroup 65532 as a supplementary group, and the env file is 0440 65532:65532.
func checkUsers(t *testing.T, c *kube.Cluster, p corev1.Pod) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, want := range []struct{ container, uid, group string }{
		{"patas-secrets", "65532", "65532"},
		{"patas", "10001", "65532"},
	} {
		pid, err := c.ContainerPID(ctx, status(p, want.container).ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		uids, groups, err := kube.ProcIDs(pid)
		if err != nil {
			t.Fatal(err)
		}
		if uids != strings.Repeat(want.uid+" ", 3)+want.uid || !strings.Contains(" "+groups+" ", " "+want.group+" ") {
			t.Errorf("%s/%s: uids %q groups %q, want uid %s in group %s", p.Name, want.container, uids, groups, want.uid, want.group)
		}
	}
	st, err := os.Stat(filepath.Join(c.EmptyDir(string(p.UID), "patas-run"), "secrets.env"))
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o440 || sys.Uid != 65532 || sys.Gid != 65532 {
		t.Errorf("%s: secrets.env is %v %d:%d, want 0440 65532:65532", p.Name, st.Mode().Perm(), sys.Uid, sys.Gid)
	}
}

// secretRotation: kubectl apply of a changed Secret reaches both apps through the kubelet's
// ..data swap, the sidecar's watch and exec's restart, with traffic flowing throughout.
func secretRotation(t *testing.T, c *kube.Cluster, ps []corev1.Pod, dbURL string) {
	tr := startTraffic(t, c)
	sleepCtx(context.Background(), 2*time.Second) // traffic before the change
	applied := time.Now()
	kubectlIn(t, c, fileSecret(dbURL, 2), "apply", "-f", "-")
	var slowest time.Duration
	for _, p := range ps {
		_, seen := waitKey(t, p.Status.PodIP, newKey, 4*time.Minute)
		d := seen.Sub(applied)
		t.Logf("%s: kubectl apply -> app sees the new API_KEYS: %s", p.Name, d.Round(100*time.Millisecond))
		slowest = max(slowest, d)
	}
	// Both apps restarted; wait until both are ready again before stopping the traffic.
	waitReadyEndpoints(t, tr, 2)
	sleepCtx(context.Background(), 2*time.Second)
	tr.stop()
	t.Logf("propagation (slowest pod) %s; requests sent %d, failed %d, retried on the other replica (refused or reset) %d",
		slowest.Round(100*time.Millisecond), tr.Sent.Load(), tr.Failed.Load(), tr.Retried.Load())
	if tr.Failed.Load() != 0 {
		t.Errorf("%d of %d requests failed (last: %v)", tr.Failed.Load(), tr.Sent.Load(), tr.LastErr())
	}
	for _, p := range pods(t, c) {
		if n := status(p, "patas").RestartCount; n != 0 {
			t.Errorf("%s: app container restarted %d times; the rotation must restart the process inside it only", p.Name, n)
		}
	}
}

func waitReadyEndpoints(t *testing.T, tr *traffic, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(tr.ready()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("ready endpoints: %v, want %d", tr.ready(), n)
		}
		sleepCtx(context.Background(), 200*time.Millisecond)
	}
}

// sidecarKilled: SIGKILL to the sidecar; the kubelet restarts it in place, the app keeps its
// process and serves throughout, and the env file is never removed or changed.
func sidecarKilled(t *testing.T, c *kube.Cluster, p corev1.Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	before, err := ask(ctx, p.Status.PodIP, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	envPath := filepath.Join(c.EmptyDir(string(p.UID), "patas-run"), "secrets.env")
	content, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	tr := startTraffic(t, c)
	restarts := status(p, "patas-secrets").RestartCount
	if err := c.KillContainer(ctx, status(p, "patas-secrets").ContainerID); err != nil {
		t.Fatal(err)
	}
	var now corev1.Pod
	for {
		var got corev1.Pod
		for _, q := range pods(t, c) {
			if q.Name == p.Name {
				got = q
			}
		}
		s := status(got, "patas-secrets")
		if s.RestartCount > restarts && s.Started != nil && *s.Started && s.State.Running != nil {
			now = got
			break
		}
		if b, err := os.ReadFile(envPath); err != nil || string(b) != string(content) {
			t.Fatalf("the env file changed or went away while the sidecar was down (%v)", err)
		}
		if ctx.Err() != nil {
			t.Fatalf("the sidecar was not restarted and started again\n%s", describe(c))
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	after, err := ask(ctx, p.Status.PodIP, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	tr.stop()
	if after.PID != before.PID || status(now, "patas").RestartCount != status(p, "patas").RestartCount {
		t.Errorf("the app was restarted (pid %d -> %d, container restarts %d)", before.PID, after.PID, status(now, "patas").RestartCount)
	}
	if b, err := os.ReadFile(envPath); err != nil || string(b) != string(content) {
		t.Errorf("the env file changed after the sidecar's restart (%v)", err)
	}
	t.Logf("sidecar restarts %d -> %d; requests sent %d, failed %d", restarts, status(now, "patas-secrets").RestartCount, tr.Sent.Load(), tr.Failed.Load())
	if tr.Failed.Load() != 0 {
		t.Errorf("%d of %d requests failed (last: %v)", tr.Failed.Load(), tr.Sent.Load(), tr.LastErr())
	}
}
