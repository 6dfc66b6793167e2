package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Postgres is a throwaway PostgreSQL cluster (initdb in a temporary directory) listening
// on a free loopback port, stopped and removed when the test ends.
type Postgres struct {
	Host, Port string
	// User and Password are the superuser's; password authentication is required on TCP.
	User, Password string
	bin            string // directory of psql
}

const postgresHow = "install PostgreSQL (apt-get install postgresql) so that initdb and postgres are on the PATH, or set PATAS_TEST_PG_BIN to their directory"

// StartPostgres runs initdb and postgres. As root (CI containers), the cluster runs as the
// postgres user, since PostgreSQL refuses to run as root.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	initdb := pgBinary(t, "initdb")
	postgres := pgBinary(t, "postgres")
	psql := pgBinary(t, "psql")

	dir, err := os.MkdirTemp("", "patas-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cred := pgCredential(t)
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	pw := randomHex(16)
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	init := exec.Command(initdb, "-D", data, "-U", "postgres", "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C")
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	host, port, _ := net.SplitHostPort(FreeAddr(t))
	logs := &procOutput{}
	srv := exec.Command(postgres, "-D", data, "-p", port, "-k", dir,
		"-c", "listen_addresses="+host, "-c", "fsync=off", "-c", "synchronous_commit=off")
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGQUIT) // immediate shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
	})
	p := &Postgres{Host: host, Port: port, User: "postgres", Password: pw, bin: filepath.Dir(psql)}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := p.TryPSQL(p.User, p.Password, "select 1"); err == nil {
			return p
		}
		select {
		case <-exited:
			t.Fatalf("postgres exited:\n%s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres did not become ready:\n%s", logs.String())
		}
	}
}

// TryPSQL runs one SQL command as user over TCP with password authentication and returns
// psql's unaligned output.
func (p *Postgres) TryPSQL(user, password, sql string) (string, error) {
	cmd := exec.Command(filepath.Join(p.bin, "psql"), "-h", p.Host, "-p", p.Port, "-U", user,
		"-d", "postgres", "-w", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=5")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// URL is a connection URL for user; Vault's database engine takes it as a template with
// {{username}} and {{password}}.
func (p *Postgres) URL(user, password string) string {
	return fmt.Sprintf("postgresql://%s:%s@%s/postgres?sslmode=disable", user, password, net.JoinHostPort(p.Host, p.Port))
}

func pgBinary(t testing.TB, name string) string {
	t.Helper()
	if d := os.Getenv("PATAS_TEST_PG_BIN"); d != "" {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// Debian keeps the server binaries off the PATH.
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(m) > 0 {
		return m[len(m)-1]
	}
	Missing(t, name, postgresHow)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pgCredential is the postgres user's when running as root, else nil (run as ourselves).
func pgCredential(t testing.TB) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		Missing(t, "a postgres user (PostgreSQL refuses to run as root)", postgresHow)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
