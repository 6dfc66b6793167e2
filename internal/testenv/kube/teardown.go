package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// state is what a teardown needs, saved as the cluster starts so that the next run can clean
// up after a test binary that was killed (a go test timeout exits without deferred calls).
type state struct {
	Dir          string
	Pids         []int             // in start order
	NetnsBefore  []string          // /run/netns entries that are not ours
	Sysctls      map[string]string // as they were: the kubelet rewrites them
	IptablesOurs bool              // KUBE-FIREWALL did not exist before: the kubelet's chains are ours to remove
}

func statePath() string { return filepath.Join(os.TempDir(), "patas-kube.state") }

func (s *state) save() error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(statePath(), b, 0o600)
}

// lockMachine takes the machine-wide lock that keeps two clusters (fixed ports) apart.
func lockMachine(ctx context.Context) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "patas-kube.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return f, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("another test cluster holds %s: %w", f.Name(), ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// cleanLeftovers tears down the cluster a killed run left (its state file says what it was).
func cleanLeftovers() error {
	b, err := os.ReadFile(statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil || s.Dir == "" || !strings.HasPrefix(s.Dir, os.TempDir()) {
		return os.Remove(statePath())
	}
	if err := teardown(&s, nil); err != nil {
		return err
	}
	return os.Remove(statePath())
}

// teardown stops the components (procs when this process started them, else the recorded
// pids), the containers and their shims, and undoes what the kubelet and CNI changed on the
// host. It goes on after an error and returns the first.
func teardown(s *state, procs []*proc) error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	sock := filepath.Join(s.Dir, "containerd", "containerd.sock")
	// The kubelet (started last) first, so that it restarts nothing; then every container;
	// then the rest in reverse start order (containerd is first: it stops last).
	type target struct {
		pid  int
		done <-chan struct{}
	}
	var targets []target
	if procs != nil {
		for _, p := range procs {
			targets = append(targets, target{p.cmd.Process.Pid, p.done})
		}
	} else {
		for _, pid := range s.Pids {
			if isOurs(pid, s.Dir) {
				targets = append(targets, target{pid, nil})
			}
		}
	}
	if n := len(targets); n > 0 {
		stopProc(targets[n-1].pid, targets[n-1].done)
		targets = targets[:n-1]
	}
	if _, err := os.Stat(sock); err == nil {
		killContainers(sock)
	}
	for i := len(targets) - 1; i >= 0; i-- {
		stopProc(targets[i].pid, targets[i].done)
	}
	for _, pid := range shims(sock) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// Whatever still runs in a pod (containerd was killed before it could stop them).
	killCgroupProcs()
	before := map[string]bool{}
	for _, n := range s.NetnsBefore {
		before[n] = true
	}
	for _, n := range listNetns() {
		if !before[n] && strings.HasPrefix(n, "cni-") {
			p := filepath.Join("/run/netns", n)
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
			note(os.Remove(p))
		}
	}
	note(unmountUnder(s.Dir))
	if _, err := os.Stat("/sys/class/net/" + BridgeName); err == nil {
		note(command("ip", "link", "del", BridgeName))
	}
	note(removeCgroups())
	if s.IptablesOurs {
		removeKubeletChains()
	}
	for k, v := range s.Sysctls {
		note(os.WriteFile("/proc/sys/"+strings.ReplaceAll(k, ".", "/"), []byte(v), 0o644))
	}
	if m, _ := mountsUnder(s.Dir); len(m) == 0 {
		note(os.RemoveAll(s.Dir))
	}
	return errors.Join(errs...)
}

// stopProc sends SIGTERM to a process group, then SIGKILL after 15 s.
func stopProc(pid int, done <-chan struct{}) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if done != nil {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		} else {
			if syscall.Kill(pid, 0) != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if done != nil {
		<-done
	}
}

// isOurs reports whether pid still runs a component of the cluster in dir (pids are reused).
func isOurs(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), dir)
}

// killContainers kills and deletes every container our containerd runs.
func killContainers(sock string) {
	ctr := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, "ctr", append([]string{"-a", sock, "-n", "k8s.io"}, args...)...).Output()
		return string(out)
	}
	tasks := strings.Fields(ctr("tasks", "ls", "-q"))
	for _, t := range tasks {
		ctr("tasks", "kill", "-s", "SIGKILL", t)
	}
	for _, t := range tasks {
		ctr("tasks", "delete", "-f", t)
	}
	for _, c := range strings.Fields(ctr("containers", "ls", "-q")) {
		ctr("containers", "delete", c)
	}
}

// shims are the containerd-shim processes of our containerd (their command line names its socket).
func shims(sock string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.Contains(args[0], "containerd-shim") && strings.Contains(string(b), sock) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func listNetns() []string {
	entries, _ := os.ReadDir("/run/netns")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
			points = append(points, fields[1])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points, sc.Err()
}

func unmountUnder(dir string) error {
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, p := range points {
		if syscall.Unmount(p, 0) != nil {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
	if left, _ := mountsUnder(dir); len(left) > 0 {
		return fmt.Errorf("still mounted under %s: %v", dir, left)
	}
	return nil
}

// removeCgroups removes the kubelet's kubepods hierarchy, deepest first (empty once the
// containers are gone).
func removeCgroups() error {
	var errs []error
	for _, root := range kubepodsRoots() {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// killCgroupProcs kills every process left in the kubelet's kubepods cgroups and waits (up
// to 10 s) until they are gone.
func killCgroupProcs() {
	for i := 0; i < 50; i++ {
		var pids []int
		for _, root := range kubepodsRoots() {
			_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
					return nil
				}
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
				return nil
			})
		}
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func kubepodsRoots() []string {
	if cgroup2() {
		return []string{"/sys/fs/cgroup/kubepods"}
	}
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	return roots
}

// removeKubeletChains removes the chains the kubelet adds (KUBE-FIREWALL in filter, canaries,
// KUBE-IPTABLES-HINT in mangle).
func removeKubeletChains() {
	for _, ipt := range []string{"iptables", "ip6tables"} {
		_ = command(ipt, "-D", "INPUT", "-j", "KUBE-FIREWALL")
		_ = command(ipt, "-D", "OUTPUT", "-j", "KUBE-FIREWALL")
		_ = command(ipt, "-F", "KUBE-FIREWALL")
		_ = command(ipt, "-X", "KUBE-FIREWALL")
		for _, table := range []string{"mangle", "nat", "filter"} {
			_ = command(ipt, "-t", table, "-F", "KUBE-KUBELET-CANARY")
			_ = command(ipt, "-t", table, "-X", "KUBE-KUBELET-CANARY")
			_ = command(ipt, "-t", table, "-X", "KUBE-IPTABLES-HINT")
		}
	}
}

// readSysctls saves the kernel settings the kubelet changes at start.
func readSysctls() map[string]string {
	out := map[string]string{}
	for _, k := range []string{"vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
		"kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"} {
		if b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(k, ".", "/")); err == nil {
			out[k] = strings.TrimSpace(string(b))
		}
	}
	return out
}

func command(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
