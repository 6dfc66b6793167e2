// Package testenv helps integration tests start the real servers they talk to (Vault, moto,
// PostgreSQL, a GCP gRPC server). A server that cannot be started fails the test under
// CI=true and skips it elsewhere, with a message that says how to run it.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether the suite runs in CI, where nothing may be skipped.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Missing stops t because a server or tool it needs is not available.
func Missing(t testing.TB, what, how string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is not available, and CI=true forbids skipping: %s", what, how)
	}
	t.Skipf("%s is not available (%s); skipping", what, how)
}

// Binary returns the path of a program: $envVar if set, else name on the PATH; else it
// calls Missing.
func Binary(t testing.TB, envVar, name, how string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, how)
	}
	return p
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
