package kube

import (
	"fmt"
	"os"
	"path/filepath"
)

// The cluster's fixed addresses: one cluster per machine (TestMain shares it).
const (
	APIServer   = "https://127.0.0.1:6443"
	Node        = "localhost" // the node name is the address the apiserver dials for logs and exec
	BridgeName  = "patask8s0"
	PodSubnet   = "10.244.77.0/24"
	BridgeIP    = "10.244.77.1" // the host on the pods' bridge: pods reach test servers listening here
	ServiceCIDR = "10.97.0.0/24"
	ServiceIP   = "10.97.0.1"
	etcdClient  = "127.0.0.1:23790"
	etcdPeer    = "127.0.0.1:23800"
	// PauseImage is the sandbox image, built FROM scratch by LoadImages' first call.
	PauseImage = "docker.io/patas-kube/pause:v1"
)

// writeConfigs writes containerd's, the CNI bridge's and the kubelet's configuration under dir.
func writeConfigs(dir string) error {
	for _, d := range []string{"containerd/root", "containerd/state", "containerd/runc", "containerd/opt", "cni/net.d", "cni/ipam", "kubelet"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	files := map[string]string{
		"containerd/config.toml":           containerdConfig(dir),
		"cni/net.d/10-patas-test.conflist": cniConfig(dir),
		"resolv.conf":                      "nameserver 127.0.0.1\noptions ndots:1\n",
		"kubelet-config.yaml":              kubeletConfig(dir),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig is for containerd 1.6/1.7 (config version 2, Debian bookworm's 1.6.20): its
// own root, state and socket, never Docker's.
func containerdConfig(dir string) string {
	return fmt.Sprintf(`version = 2
root = "%[1]s/containerd/root"
state = "%[1]s/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "%[1]s/containerd/containerd.sock"
[ttrpc]
  address = "%[1]s/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "%[1]s/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "%[2]s"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    # Without CAP_SYS_RESOURCE (this kind of machine) runc cannot lower oom_score_adj to the
    # kubelet's -998 for sandboxes ("can't get final child's PID from pipe: EOF").
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "%[1]s/containerd/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "%[1]s/cni/net.d"
      max_conf_num = 1
`, dir, PauseImage)
}

// cniConfig: a bridge whose host side is BridgeIP (the pods' gateway, so a pod reaches a test
// server listening there), no masquerade: nothing leaves the machine.
func cniConfig(dir string) string {
	return fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "patas-test", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": %q, "gateway": %q}]], "dataDir": "%s/cni/ipam"}}]}
`, BridgeName, PodSubnet, BridgeIP, dir)
}

func kubeletConfig(dir string) string {
	driver := "cgroupfs"
	if st, err := os.Stat("/run/systemd/system"); err == nil && st.IsDir() && cgroup2() {
		driver = "systemd"
	}
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[1]s/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: %[1]s/pki/kubelet-serving.crt
tlsPrivateKeyFile: %[1]s/pki/kubelet-serving.key
cgroupDriver: %[2]s
containerRuntimeEndpoint: unix://%[1]s/containerd/containerd.sock
failSwapOn: false
resolvConf: %[1]s/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
rotateCertificates: false
evictionHard: {memory.available: "100Mi", nodefs.available: "2%%", imagefs.available: "2%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, dir, driver)
}

func cgroup2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}
