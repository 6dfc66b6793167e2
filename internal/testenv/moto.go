package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const motoHow = "install moto[server] (pip install 'moto[server]') or set PATAS_TEST_MOTO_BIN; scripts/prepare.d/aws.sh checks it"

// MotoServer is a moto_server (an AWS emulator) on a loopback port, shared by the tests of
// one package.
type MotoServer struct {
	URL string

	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
}

var moto struct {
	mu  sync.Mutex
	srv *MotoServer
	err error
}

// Moto returns the package's moto_server, started on first use, with its state reset so
// that each test starts empty. Call StopMoto from TestMain after m.Run.
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	bin := Binary(t, "PATAS_TEST_MOTO_BIN", "moto_server", motoHow)
	moto.mu.Lock()
	defer moto.mu.Unlock()
	if moto.srv == nil && moto.err == nil {
		moto.srv, moto.err = startMoto(bin)
	}
	if moto.err != nil {
		t.Fatalf("starting moto_server: %v", moto.err)
	}
	if err := moto.srv.Reset(); err != nil {
		t.Fatalf("resetting moto_server: %v", err)
	}
	return moto.srv
}

// StopMoto stops the package's moto_server if one was started.
func StopMoto() {
	moto.mu.Lock()
	defer moto.mu.Unlock()
	if moto.srv != nil {
		moto.srv.stop()
		moto.srv = nil
	}
}

// startMoto starts moto_server with the environment plus env.
func startMoto(bin string, env ...string) (*MotoServer, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(addr, ":")
	log, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", host, "-p", port)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, so that stop reaches the Python behind a pyenv shim too; and
	// killed with the test binary should TestMain not get to StopMoto.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		os.Remove(log.Name())
		return nil, err
	}
	m := &MotoServer{URL: "http://" + addr, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(m.done) }()
	if err := m.waitReady(90 * time.Second); err != nil { // slow on a loaded machine
		m.stop()
		return nil, err
	}
	return m, nil
}

func (m *MotoServer) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := m.post(ctx, "/moto-api/reset"); err == nil {
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("moto_server exited at start-up: %s", m.tail())
		case <-ctx.Done():
			return fmt.Errorf("moto_server not ready after %s: %s", limit, m.tail())
		case <-tick.C:
		}
	}
}

// Reset empties every store of the emulator.
func (m *MotoServer) Reset() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.post(ctx, "/moto-api/reset")
}

func (m *MotoServer) post(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+path, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

func (m *MotoServer) stop() {
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	m.log.Close()
	os.Remove(m.log.Name())
}

// tail is the end of moto_server's output, for start-up errors.
func (m *MotoServer) tail() string {
	b, err := os.ReadFile(m.log.Name())
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "(no output)"
	}
	return string(b)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
