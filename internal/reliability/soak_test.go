package reliability

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestSoak runs `run` with the secret rotating every 100 ms while a reader checks, as
// fast as it can, that every version it sees of every output is complete and never older
// than one it saw before. It reports the sidecar's RSS and goroutines before and after;
// goroutines must not grow. PATAS_SOAK=5m sets the length (default 10s), and at the end a
// SIGQUIT's goroutine dump, like every log line and /metrics, must not hold the value.
func TestSoak(t *testing.T) {
	t.Parallel()
	length := 10 * time.Second
	if s := os.Getenv("PATAS_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("PATAS_SOAK=%q: %v", s, err)
		}
		length = d
	}
	bin := patasBinary(t)
	dir := t.TempDir()
	cfg, o := crashConfig(t, dir)
	addr := testenv.FreeAddr(t)
	b, _ := os.ReadFile(cfg)
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), `listen: "off"`, `listen: "`+addr+`"`, 1)), 0o600))
	const size = 4 << 10
	src := startSource(t, filepath.Join(dir, "secrets"), size, 100*time.Millisecond)
	s := startSidecar(t, bin, cfg)
	waitUntil(t, 60*time.Second, "the first outputs", func() bool {
		gens, err := readGens(o, size)
		return err == nil && gens[o.files] >= 0 && gens[o.env] >= 0
	})
	time.Sleep(2 * time.Second) // let start-up allocation settle
	rss0, g0 := vmRSS(t, s.cmd.Process.Pid), goroutines(t, addr)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, versions int
	var mu sync.Mutex // guards readErr
	var readErr error
	fail := func(err error) {
		mu.Lock()
		readErr = err
		mu.Unlock()
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return readErr
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := map[string]int{}
		for {
			select {
			case <-stop:
				return
			default:
			}
			gens, err := readGens(o, size)
			if err != nil {
				fail(err)
				return
			}
			reads++
			for p, g := range gens {
				if g < last[p] {
					fail(fmt.Errorf("%s went back from generation %d to %d", p, last[p], g))
					return
				}
				if g > last[p] {
					versions++
				}
				last[p] = g
			}
		}
	}()
	deadline := time.After(length)
	func() {
		for {
			select {
			case <-deadline:
				return
			case <-s.exited:
				t.Errorf("run exited during the soak:\n%s", tail(s.stderr.String()))
				return
			case <-time.After(100 * time.Millisecond):
				if failed() != nil {
					return
				}
			}
		}
	}()
	close(stop)
	wg.Wait()
	if err := failed(); err != nil {
		t.Fatalf("the reader saw a broken output: %v", err)
	}
	src.halt()
	want := src.lastGen()
	waitUntil(t, 30*time.Second, "the outputs to catch up", func() bool {
		gens, err := readGens(o, size)
		return err == nil && gens[o.env] == want && gens[o.files] == want && gens[o.json] == want && gens[o.sh] == want
	})
	time.Sleep(2 * time.Second)
	rss1, g1 := vmRSS(t, s.cmd.Process.Pid), goroutines(t, addr)
	metrics := httpGet(t, "http://"+addr+"/metrics")
	t.Logf("soak %s: %d source versions, %d reads, %d new versions seen across 4 outputs", length, want, reads, versions)
	t.Logf("RSS %d kB -> %d kB; goroutines %d -> %d", rss0, rss1, g0, g1)
	if g1 > g0+3 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if reads < 100 || versions < 4*int(length/time.Second) {
		t.Errorf("too little happened (%d reads, %d versions) for the soak to mean anything", reads, versions)
	}

	// A goroutine dump (what a panic prints too) must not carry the value.
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	<-s.exited
	logs := s.stderr.String()
	if !strings.Contains(logs, "goroutine ") {
		t.Errorf("no goroutine dump after SIGQUIT")
	}
	noCanary(t, map[string]string{"run's log and goroutine dump": logs, "/metrics": metrics})
}

func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func goroutines(t *testing.T, addr string) int {
	t.Helper()
	for _, line := range strings.Split(httpGet(t, "http://"+addr+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no go_goroutines on /metrics")
	return 0
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
