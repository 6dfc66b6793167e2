package kube

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

const how = "run scripts/test.sh as root, or `bash scripts/prepare.d/kubernetes.sh` (builds Kubernetes into the cache) and set PATAS_TEST_KUBE_BIN to the directory it prints"

var shared struct {
	mu  sync.Mutex
	c   *Cluster
	err error
}

// Shared returns the test binary's cluster, started on the first call. Without the binaries
// or root it calls testenv.Missing (a failure under CI=true); a cluster that does not start
// fails t.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	bin := os.Getenv("PATAS_TEST_KUBE_BIN")
	if _, err := os.Stat(filepath.Join(bin, "kubelet")); bin == "" || err != nil {
		testenv.Missing(t, "Kubernetes binaries", how)
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (the kubelet and containerd need it)", how)
	}
	for _, tool := range []string{"containerd", "runc", "ctr", "ip", "iptables", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local"} {
		testenv.Binary(t, "", tool, "apt-get install containerd runc containernetworking-plugins iproute2 iptables (scripts/prepare.d/kubernetes.sh does)")
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c == nil && shared.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		shared.c, shared.err = Start(ctx, bin)
		cancel()
		if shared.err == nil {
			t.Logf("cluster started in %s (%s)", shared.c.Started.Round(100*time.Millisecond), shared.c.Dir)
		}
	}
	if shared.err != nil {
		t.Fatalf("starting the test cluster: %v", shared.err)
	}
	return shared.c
}

// Main runs the tests and then tears the shared cluster down, also on SIGINT or SIGTERM.
// Call it from TestMain: os.Exit(kube.Main(m)).
func Main(m *testing.M) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "kube: %v: tearing the test cluster down\n", s)
			stopShared()
			os.Exit(1)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	signal.Stop(sigs)
	if err := stopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "kube: tearing the test cluster down: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c == nil {
		return nil
	}
	err := shared.c.Stop()
	shared.c = nil
	return err
}
