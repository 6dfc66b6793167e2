package deploy_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestComposeTraffic runs docker-compose.yml (with deploy/test/traffic/compose.yml: the
// PATAS-shaped app as uid 10001, a real PostgreSQL, moto for AWS Secrets Manager) with two app
// replicas while a client sends authenticated requests without pause, through four cases:
// (a) API_KEYS rotates with an overlap window and the client moves to the new key inside
// it; (b) the database password rotates (ALTER ROLE, then the new password through the
// sidecar); (c) the sidecar crashes and is restarted; (d) AWS (moto) is unreachable for longer
// than max_staleness, and the sidecar crashes and restarts during that outage. Each case's
// sent and failed requests are logged, and every case must lose none, in reload mode (exec
// --signal SIGHUP) and in restart mode, which restarts both replicas at once on a change:
// exec holds the app's port (--listen) across the restart, so a request that arrives while
// the new process starts waits for it instead of being refused.
func TestComposeTraffic(t *testing.T) {
	bin := docker(t)
	base := appImages(t)
	motoBin, motoPrefix := motoInContainer(t)
	tools := composeTools(t, bin)
	names := make([]string, 0, len(tools))
	for n := range tools {
		names = append(names, n)
	}
	sort.Strings(names)
	tool := tools[names[0]] // one Compose implementation is enough for the traffic
	for _, mode := range []string{"reload", "restart"} {
		t.Run(mode, func(t *testing.T) { composeTraffic(t, bin, tool, base, motoBin, motoPrefix, mode) })
	}
}

func composeTraffic(t *testing.T, bin string, tool []string, base, motoBin, motoPrefix, mode string) {
	root := repoRoot(t)
	secrets := t.TempDir()
	if err := os.Chmod(secrets, 0o755); err != nil {
		t.Fatal(err)
	}
	const (
		oldKey, newKey = "old-key-7d1c", "new-key-9a4e"
		dbPass1        = "db-pass-one-5f2a"
		dbPass2        = "db-pass-two-c83b"
		llmKey         = "sk-traffic-4b7d0e"
	)
	writeSecret(t, secrets, "api_keys", oldKey+":tenant-a")
	writeSecret(t, secrets, "db_password", dbPass1)
	execMode := "--restart"
	if mode == "reload" {
		execMode = "--signal=SIGHUP"
	}
	project := "patas-traffic-" + mode + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	compose := func(args ...string) (string, error) {
		a := append(append([]string{}, tool[1:]...), "-p", project, "-f", filepath.Join(root, "docker-compose.yml"),
			"-f", filepath.Join(root, "deploy", "test", "traffic", "compose.yml"))
		cmd := exec.Command(tool[0], append(a, args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PATAS_SECRETS_DIR="+secrets, "PATAS_STANDIN_PORT=", "PATAS_APP_BASE_IMAGE="+base,
			"PATAS_TEST_MOTO_BIN="+motoBin, "PATAS_TEST_MOTO_PREFIX="+motoPrefix, "PATAS_EXEC_MODE="+execMode)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { _, _ = compose("down", "-v", "--remove-orphans") })
	fail := func(format string, args ...any) {
		t.Helper()
		logs, _ := compose("logs", "--no-color", "--tail", "60")
		t.Fatalf(format+"\nlogs:\n%s", append(args, logs)...)
	}
	id := func(service string) []string {
		out, err := compose("ps", "-q", service)
		if err != nil {
			fail("ps %s: %v %s", service, err, out)
		}
		return strings.Fields(out)
	}

	if out, err := compose("up", "-d", "--no-build", "moto", "db"); err != nil {
		fail("up moto db: %v\n%s", err, out)
	}
	moto := id("moto")[0]
	seedMoto(t, bin, moto, motoPrefix, llmKey)
	start := time.Now()
	if out, err := compose("up", "-d", "--no-build", "--scale", "patas=2"); err != nil {
		fail("up: %v\n%s", err, out)
	}
	apps := id("patas")
	sidecar := id("patas-secrets")[0]
	db := id("db")[0]
	if len(apps) != 2 {
		fail("want 2 app replicas, got %v", apps)
	}
	var urls []string
	for _, c := range apps {
		ip := strings.TrimSpace(command(t, "", bin, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", c))
		urls = append(urls, "http://"+ip+":8000")
	}
	waitFor(t, "both replicas to serve the first key", 3*time.Minute, func() bool {
		return everyReplica(urls, oldKey, func(w whoami) bool { return w.Namespace == "tenant-a" && w.DBUser == "patas" })
	})
	t.Logf("%s up with the app serving on %d replicas in %v", strings.Join(tool, " "), len(urls), time.Since(start).Round(time.Second))

	// The app runs as its own uid with the sidecar's group, never as the sidecar.
	if u := strings.TrimSpace(command(t, "", bin, "exec", apps[0], "id")); !strings.Contains(u, "uid=10001") || !strings.Contains(u, "65532") {
		t.Errorf("app identity: %s, want uid 10001 with group 65532", u)
	}
	snapshot := func(ids []string) string {
		return command(t, "", bin, append([]string{"inspect", "--format", "{{.Id}} {{.State.StartedAt}} {{.RestartCount}}"}, ids...)...)
	}
	appsBefore := snapshot(apps)

	client := newTrafficClient(func() []string { return urls }, oldKey, "a: API_KEYS rotation, overlap window")
	ctx, stop := context.WithCancel(context.Background())
	done := client.run(ctx)
	defer func() { stop(); <-done }()
	probe := &http.Client{Timeout: 3 * time.Second}
	state := func() []whoami {
		var out []whoami
		for _, u := range urls {
			w, _ := ask(context.Background(), probe, u, client.key.Load().(string))
			out = append(out, w)
		}
		return out
	}

	// (a) API_KEYS rotates; both keys work inside the window; the client moves; the old one goes.
	writeSecret(t, secrets, "api_keys", newKey+":tenant-a")
	waitFor(t, "the new key on every replica", 2*time.Minute, func() bool {
		return everyReplica(urls, newKey, func(w whoami) bool { return true })
	})
	if !everyReplica(urls, oldKey, func(w whoami) bool { return true }) {
		t.Errorf("inside the overlap window the old key must still work")
	}
	client.key.Store(newKey)
	waitFor(t, "the old key to be refused after the window", 3*time.Minute, func() bool { return rejected(urls, oldKey) })

	// (b) The database password rotates: ALTER ROLE first (open connections stay), then the
	// new password through the sidecar; the app gets it by reload or restart.
	client.setPhase("b: DB password rotation (ALTER ROLE)")
	before := state()
	alterRole(t, bin, db, dbPass2)
	writeSecret(t, secrets, "db_password", dbPass2)
	waitFor(t, "every replica to take the new DATABASE_URL", 2*time.Minute, func() bool {
		now := state()
		for i := range now {
			if now[i].DBUser == "" || (now[i].PID == before[i].PID && now[i].Reloads == before[i].Reloads) {
				return false
			}
		}
		return true
	})
	if mode == "restart" {
		checkNewProcesses(t, before, state())
	}

	// (c) The sidecar crashes; its restart policy brings it back; it is healthy again.
	client.setPhase("c: sidecar killed and restarted")
	restarts := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(command(t, "", bin, "inspect", "--format", "{{.RestartCount}}", sidecar)))
		return n
	}
	health := func() string {
		return strings.TrimSpace(command(t, "", bin, "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", sidecar))
	}
	r0 := restarts()
	killMain(t, bin, sidecar)
	waitFor(t, "the sidecar restarted and healthy", 2*time.Minute, func() bool { return restarts() > r0 && health() == "running healthy" })

	// (d) AWS (moto) unreachable for longer than max_staleness, and a sidecar crash during it.
	client.setPhase("d: backend (AWS) unreachable > max_staleness, sidecar restart in it")
	command(t, "", bin, "pause", moto)
	paused := true
	defer func() {
		if paused {
			_ = exec.Command(bin, "unpause", moto).Run()
		}
	}()
	ready := func() bool {
		return exec.Command(bin, "exec", sidecar, "/usr/local/bin/patas-secrets", "health", "--ready", "--config", "/etc/patas-secrets/config.yaml").Run() == nil
	}
	waitFor(t, "readiness to turn false (stale)", 2*time.Minute, func() bool { return !ready() })
	r1 := restarts()
	killMain(t, bin, sidecar)
	waitFor(t, "the sidecar restarted during the outage and healthy (liveness)", 2*time.Minute, func() bool {
		return restarts() > r1 && health() == "running healthy"
	})
	if ready() {
		t.Errorf("readiness after a restart during the outage: ready, want stale")
	}
	command(t, "", bin, "unpause", moto)
	paused = false
	waitFor(t, "readiness after the outage", 2*time.Minute, ready)
	client.setPhase("after")
	waitFor(t, "requests after the outage", time.Minute, func() bool { s, _, _ := client.get("after"); return s >= 20 })
	stop()
	<-done

	if after := snapshot(apps); after != appsBefore {
		t.Errorf("app containers were replaced or restarted:\nbefore %s\nafter  %s", appsBefore, after)
	}
	if r := restarts(); r != r1+1 {
		t.Errorf("sidecar restarts: %d, want exactly the two crashes the test caused (%d)", r, r1+1)
	}
	client.report(t, "Compose, 2 replicas, "+mode+" mode")
	client.checkNoneLost(t, appRestarts(mode))
	logs, _ := compose("logs", "--no-color")
	for _, canary := range []string{oldKey, newKey, dbPass1, dbPass2, llmKey} {
		if strings.Contains(logs, canary) {
			t.Errorf("a secret value appears in the compose logs")
		}
	}
}
