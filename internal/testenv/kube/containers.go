package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ContainerPID returns the host pid of a container's first process; id is a pod status's
// containerID (containerd://ID) or the bare ID.
func (c *Cluster) ContainerPID(ctx context.Context, id string) (int, error) {
	id = strings.TrimPrefix(id, "containerd://")
	out, err := c.ctr(ctx, "tasks", "ls")
	if err != nil {
		return 0, fmt.Errorf("ctr tasks ls: %w: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == id {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no task for container %s", id)
}

// KillContainer sends SIGKILL to a container's processes, as a crash would.
func (c *Cluster) KillContainer(ctx context.Context, id string) error {
	id = strings.TrimPrefix(id, "containerd://")
	if out, err := c.ctr(ctx, "tasks", "kill", "-a", "-s", "SIGKILL", id); err != nil {
		return fmt.Errorf("ctr tasks kill %s: %w: %s", id, err, out)
	}
	return nil
}

// EmptyDir is the host path of a pod's emptyDir volume.
func (c *Cluster) EmptyDir(podUID, volume string) string {
	return filepath.Join(c.Dir, "kubelet", "pods", podUID, "volumes", "kubernetes.io~empty-dir", volume)
}

// ProcIDs returns the Uid and Groups lines of /proc/PID/status (real, effective, ... uids;
// supplementary groups).
func ProcIDs(pid int) (uids, groups string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			uids = strings.Join(strings.Fields(v), " ")
		}
		if v, ok := strings.CutPrefix(line, "Groups:"); ok {
			groups = strings.Join(strings.Fields(v), " ")
		}
	}
	return uids, groups, nil
}
