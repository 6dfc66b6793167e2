package reliability

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/telemetry"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// canary is planted in every secret value; no log line, error, metric or panic may hold it.
const canary = "CANARY-rel-5d1c0b-never-print"

// logs collects an engine's log at debug level twice: as JSON text (to scan for the
// canary) and as entries (to read fields such as retry_in).
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
	obs *observer.ObservedLogs
	log *zap.Logger
}

func newLogs() *logs {
	l := &logs{}
	core, obs := observer.New(zap.DebugLevel)
	l.obs = obs
	text := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(l), zap.DebugLevel)
	l.log = zap.New(zapcore.NewTee(core, text))
	return l
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// failures returns the "refresh failed" entries so far.
func (l *logs) failures() []observer.LoggedEntry {
	return l.obs.FilterMessageSnippet("refresh failed").AllUntimed()
}

// running is an engine going in Run until the test ends.
type running struct {
	eng  *engine.Engine
	dir  string
	logs *logs
	stop func()
}

// startEngine parses yaml with paths relative to dir, builds the engine over backends with
// metrics and a short FetchTimeout, logging into l,, and runs it until the test ends.
func startEngine(t *testing.T, l *logs, dir, yaml string, backends map[string]fetcher.Backend, fetchTimeout time.Duration) *running {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), dir, allbackends.Registry())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	eng, err := engine.New(cfg, backends, l.log)
	if err != nil {
		t.Fatal(err)
	}
	eng.FetchTimeout = fetchTimeout
	eng.Metrics = telemetry.NewMetrics("test", eng.Staleness)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx, nil) }()
	var once sync.Once
	r := &running{eng: eng, dir: dir, logs: l}
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// metrics returns what /metrics serves.
func (r *running) metrics(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	telemetry.Handler(r.eng.Metrics, r.eng.Ready).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// noCanary fails t when any of the texts holds the canary.
func noCanary(t *testing.T, texts map[string]string) {
	t.Helper()
	for what, s := range texts {
		if strings.Contains(s, canary) {
			t.Errorf("%s contains the secret value", what)
		}
	}
}

// waitUntil polls cond every 20ms until it holds, or fails t after limit. A condition, not
// a speed test: limits are generous.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			var s string
			for _, f := range state {
				s += "; " + f()
			}
			t.Fatalf("timed out after %s waiting for %s%s", limit, what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readOutputs returns the content of every regular file under dir (outputs, generations),
// by path relative to dir, following the files format's symlinks as a reader would.
func readOutputs(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			out[p] = "<" + err.Error() + ">"
			continue
		}
		out[p] = string(b)
	}
	return out
}

// tempFiles lists the atomic writer's temporary files left in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".patas-secrets-*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m {
		if !strings.HasSuffix(p, ".patas-secrets-overlap.json") {
			out = append(out, p)
		}
	}
	return out
}

// The binary, built once per test run by patasBinary.
var bin struct {
	mu   sync.Mutex
	dir  string
	path string
	err  error
	out  []byte
}

// patasBinary builds cmd/patas-secrets once (or takes $PATAS_TEST_BINARY) and returns its path.
func patasBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PATAS_TEST_BINARY"); p != "" {
		return p
	}
	bin.mu.Lock()
	defer bin.mu.Unlock()
	if bin.path == "" && bin.err == nil {
		bin.dir, bin.err = os.MkdirTemp("", "patas-reliability-bin-")
		if bin.err == nil {
			bin.path = filepath.Join(bin.dir, "patas-secrets")
			cmd := exec.Command("go", "build", "-o", bin.path, "github.com/patas/patas-secrets/cmd/patas-secrets")
			bin.out, bin.err = cmd.CombinedOutput()
		}
	}
	if bin.err != nil {
		t.Fatalf("building patas-secrets: %v\n%s", bin.err, bin.out)
	}
	return bin.path
}

func stopBinary() {
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
}
