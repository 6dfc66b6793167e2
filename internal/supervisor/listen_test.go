package supervisor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// httpChild serves GET with "pid generation" after half a second of start-up (an app's
// imports), on fd 3 ("fd") or on a port it binds itself ("port N").
const httpChild = `
import http.server, os, socket, sys, time
time.sleep(0.5)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = ("%d %s" % (os.getpid(), os.environ["GEN"])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
if sys.argv[1] == "fd":
    sock = socket.socket(fileno=3)
else:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[2])))
    sock.listen(64)
sock.setblocking(True)
srv = http.server.HTTPServer(("", 0), H, bind_and_activate=False)
srv.socket = sock
srv.serve_forever()
`

// clientLoop sends a GET on a new connection every 10 ms until stopped, and counts the
// requests that got no answer and the generations that answered.
type clientLoop struct {
	failed atomic.Int64
	mu     sync.Mutex
	gens   map[string]int
	last   error
	stop   chan struct{}
	done   chan struct{}
}

func startClient(url string) *clientLoop {
	c := &clientLoop{gens: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			resp, err := client.Get(url)
			if err != nil {
				c.failed.Add(1)
				c.mu.Lock()
				c.last = err
				c.mu.Unlock()
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, gen, _ := strings.Cut(string(b), " ")
			c.mu.Lock()
			c.gens[gen]++
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *clientLoop) seen(gen string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[gen] > 0
}

func (c *clientLoop) end() {
	close(c.stop)
	<-c.done
}

// TestListenerKeptAcrossRestarts: with the socket held by the supervisor (exec --listen),
// a restart on a changed env file refuses no connection: they wait in the backlog for the
// new process. The control, the same app binding its port itself, shows that this client
// does see the refusals a plain restart causes.
func TestListenerKeptAcrossRestarts(t *testing.T) {
	python := testenv.Binary(t, "PYTHON", "python3", "install python3")
	script := filepath.Join(t.TempDir(), "child.py")
	if err := os.WriteFile(script, []byte(httpChild), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, handoff := range []bool{true, false} {
		t.Run(map[bool]string{true: "handed over", false: "control: bound by the child"}[handoff], func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			f := newFixture(t, "GEN=1\n")
			cfg := f.config(t, "")
			cfg.Args = []string{python, script, "port", fmt.Sprint(port)}
			if handoff {
				file, err := l.(*net.TCPListener).File()
				if err != nil {
					t.Fatal(err)
				}
				defer file.Close()
				cfg.Listeners = []*os.File{file}
				cfg.Args = []string{python, script, "fd"}
			}
			l.Close()
			ctx, cancel := context.WithCancel(context.Background())
			ch := start(ctx, cfg)
			defer func() { cancel(); wait(t, ch) }()

			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			if !handoff {
				eventually(t, "the first process to listen", func() bool {
					resp, err := http.Get(url)
					if err == nil {
						resp.Body.Close()
					}
					return err == nil
				})
			}
			c := startClient(url)
			eventually(t, "an answer from generation 1", func() bool { return c.seen("1") })
			f.write(t, "GEN=2\n")
			eventually(t, "an answer from generation 2 after the restart", func() bool { return c.seen("2") })
			c.end()
			t.Logf("generations answered %v, requests without an answer %d (last: %v)", c.gens, c.failed.Load(), c.last)
			if handoff && c.failed.Load() != 0 {
				t.Errorf("%d requests got no answer across the restart (last: %v)", c.failed.Load(), c.last)
			}
			if !handoff && c.failed.Load() == 0 {
				t.Errorf("the control saw no refused connection: the client cannot tell a handover from a plain restart")
			}
		})
	}
}
