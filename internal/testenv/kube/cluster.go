// Package kube starts a real single-node Kubernetes for the tests of deploy/kubernetes: etcd,
// kube-apiserver (with PodSecurity admission, on by default), kube-controller-manager,
// kube-scheduler, a containerd of its own (never Docker's), the kubelet and a CNI bridge, in a
// temporary directory, all listening on 127.0.0.1 except the pods' bridge. Stop tears all of
// it down (processes, mounts, the bridge, cgroups, iptables chains, sysctls), and Start first
// tears down what a killed earlier run left. The binaries come from
// scripts/prepare.d/kubernetes.sh ($PATAS_TEST_KUBE_BIN). Needs root. One cluster per machine:
// the ports are fixed, so a test binary starts it once (Shared) and stops it from TestMain.
package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Cluster is a running cluster.
type Cluster struct {
	Dir        string // everything of this cluster: configs, PKI, logs, containerd and kubelet state
	Kubeconfig string // the admin's (system:masters)
	CA         *CA    // the cluster's CA: the apiserver's serving certificate and every client's
	Started    time.Duration

	bin   string
	procs []*proc // in start order
	st    *state
	lock  *os.File
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a cluster with the binaries in bin and waits until the node is Ready and the
// default ServiceAccount exists. On failure it tears down what it started.
func Start(ctx context.Context, bin string) (c *Cluster, err error) {
	begin := time.Now()
	lock, err := lockMachine(ctx)
	if err != nil {
		return nil, err
	}
	if err := cleanLeftovers(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("tearing down a previous run's cluster: %w", err)
	}
	dir, err := os.MkdirTemp("", "patas-kube-")
	if err != nil {
		lock.Close()
		return nil, err
	}
	c = &Cluster{Dir: dir, Kubeconfig: filepath.Join(dir, "pki", "admin.kubeconfig"), bin: bin, lock: lock,
		st: &state{Dir: dir, NetnsBefore: listNetns()}}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, c.logTails())
			if serr := c.Stop(); serr != nil {
				err = fmt.Errorf("%w (and tearing down: %v)", err, serr)
			}
			c = nil
		}
	}()
	if c.CA, err = writePKI(filepath.Join(dir, "pki"), Node, APIServer); err != nil {
		return c, err
	}
	if err = writeConfigs(dir); err != nil {
		return c, err
	}
	c.st.Sysctls = readSysctls()
	c.st.IptablesOurs = !run("iptables", "-S", "KUBE-FIREWALL")
	if err = c.st.save(); err != nil {
		return c, err
	}
	if err = c.startAll(ctx); err != nil {
		return c, err
	}
	c.Started = time.Since(begin)
	return c, nil
}

func (c *Cluster) startAll(ctx context.Context) error {
	pki := filepath.Join(c.Dir, "pki")
	sock := filepath.Join(c.Dir, "containerd", "containerd.sock")
	if err := c.start("containerd", "containerd", "--config", filepath.Join(c.Dir, "containerd", "config.toml")); err != nil {
		return err
	}
	if err := c.start("etcd", filepath.Join(c.bin, "etcd"), "--name", "patas-test", "--data-dir", filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls", "http://"+etcdClient, "--advertise-client-urls", "http://"+etcdClient,
		"--listen-peer-urls", "http://"+etcdPeer, "--initial-advertise-peer-urls", "http://"+etcdPeer,
		"--initial-cluster", "patas-test=http://"+etcdPeer, "--logger", "zap"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "etcd", time.Minute, func() bool { return httpOK(ctx, "http://"+etcdClient+"/health") }); err != nil {
		return err
	}
	if err := c.start("kube-apiserver", filepath.Join(c.bin, "kube-apiserver"), "--etcd-servers=http://"+etcdClient,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=6443",
		"--endpoint-reconciler-type=none", "--service-cluster-ip-range="+ServiceCIDR,
		"--client-ca-file="+pki+"/ca.crt", "--tls-cert-file="+pki+"/apiserver.crt", "--tls-private-key-file="+pki+"/apiserver.key",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki+"/sa.pub", "--service-account-signing-key-file="+pki+"/sa.key",
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate="+pki+"/apiserver-kubelet-client.crt", "--kubelet-client-key="+pki+"/apiserver-kubelet-client.key",
		"--kubelet-certificate-authority="+pki+"/ca.crt", "--kubelet-preferred-address-types=Hostname",
		"--allow-privileged=true", "--profiling=false"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", 3*time.Minute, func() bool {
		_, err := c.Kubectl(ctx, "get", "--raw", "/readyz")
		return err == nil
	}); err != nil {
		return err
	}
	cm := pki + "/controller-manager.kubeconfig"
	if err := c.start("kube-controller-manager", filepath.Join(c.bin, "kube-controller-manager"), "--kubeconfig="+cm,
		"--authentication-kubeconfig="+cm, "--authorization-kubeconfig="+cm,
		"--bind-address=127.0.0.1", "--leader-elect=false", "--use-service-account-credentials=true",
		"--service-account-private-key-file="+pki+"/sa.key", "--root-ca-file="+pki+"/ca.crt",
		"--cluster-signing-cert-file="+pki+"/ca.crt", "--cluster-signing-key-file="+pki+"/ca.key", "--profiling=false"); err != nil {
		return err
	}
	sched := pki + "/scheduler.kubeconfig"
	if err := c.start("kube-scheduler", filepath.Join(c.bin, "kube-scheduler"), "--kubeconfig="+sched,
		"--authentication-kubeconfig="+sched, "--authorization-kubeconfig="+sched,
		"--bind-address=127.0.0.1", "--leader-elect=false", "--profiling=false"); err != nil {
		return err
	}
	// The pods' bridge exists before the first pod, so that test servers can listen on BridgeIP
	// from the start; the CNI bridge plugin takes it over as it is.
	if err := command("ip", "link", "add", BridgeName, "type", "bridge"); err != nil {
		return err
	}
	if err := command("ip", "addr", "add", BridgeIP+"/24", "dev", BridgeName); err != nil {
		return err
	}
	if err := command("ip", "link", "set", BridgeName, "up"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "the containerd socket", time.Minute, func() bool { _, err := os.Stat(sock); return err == nil }); err != nil {
		return err
	}
	if err := c.start("kubelet", filepath.Join(c.bin, "kubelet"), "--config="+filepath.Join(c.Dir, "kubelet-config.yaml"),
		"--kubeconfig="+pki+"/kubelet.kubeconfig", "--root-dir="+filepath.Join(c.Dir, "kubelet"),
		"--hostname-override="+Node, "--v=1"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "node Ready", 3*time.Minute, func() bool {
		_, err := c.Kubectl(ctx, "wait", "--for=condition=Ready", "node/"+Node, "--timeout=2s")
		return err == nil
	}); err != nil {
		return err
	}
	return c.waitFor(ctx, "the default ServiceAccount", time.Minute, func() bool {
		_, err := c.Kubectl(ctx, "-n", "default", "get", "serviceaccount", "default")
		return err == nil
	})
}

// start runs a component in its own process group, its output in logs/NAME.log. It dies with
// the test binary (Pdeathsig), and its pid is recorded for a later run's clean-up.
func (c *Cluster) start(name, path string, args ...string) error {
	logs := filepath.Join(c.Dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(logs, name+".log"))
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	c.st.Pids = append(c.st.Pids, cmd.Process.Pid)
	return c.st.save()
}

// waitFor polls ok every half second; it fails early when a component has exited.
func (c *Cluster) waitFor(ctx context.Context, what string, limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for {
		if ok() {
			return nil
		}
		for _, p := range c.procs {
			select {
			case <-p.done:
				return fmt.Errorf("waiting for %s: %s exited (%v)", what, p.name, p.cmd.ProcessState)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not after %s", what, limit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Kubectl runs kubectl as the cluster's admin and returns its standard output; an error
// carries its standard error.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.KubectlIn(ctx, "", args...)
}

// KubectlIn is Kubectl with stdin.
func (c *Cluster) KubectlIn(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.KubectlPath(), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// KubectlPath is the kubectl built with the cluster.
func (c *Cluster) KubectlPath() string { return filepath.Join(c.bin, "kubectl") }

// Log returns a component's log (e.g. "kubelet").
func (c *Cluster) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "logs", name+".log"))
	return string(b)
}

func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, p := range c.procs {
		log := c.Log(p.name)
		if len(log) > 3000 {
			log = log[len(log)-3000:]
		}
		fmt.Fprintf(&b, "--- %s (last lines):\n%s\n", p.name, log)
	}
	return b.String()
}

// Stop tears the cluster down; safe to call twice.
func (c *Cluster) Stop() error {
	if c == nil || c.st == nil {
		return nil
	}
	err := teardown(c.st, c.procs)
	if err == nil {
		err = os.Remove(statePath())
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	c.st = nil
	if c.lock != nil {
		c.lock.Close()
	}
	return err
}

// httpOK reports whether url answers 200.
func httpOK(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// run reports whether a command exits 0.
func run(name string, args ...string) bool {
	return exec.Command(name, args...).Run() == nil
}
