package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// TestEngineNotifiesAfterWriting runs the engine with a Manager as its Notifier: the
// application is told once per change, after the output holds the new value, and not for a
// refresh that changes nothing.
func TestEngineNotifiesAfterWriting(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "secrets")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "api_keys"), []byte("k1:ns1"), 0o600)
	out := filepath.Join(dir, "run", "secrets.env")

	// The application reads the output when told: it must already hold the new value.
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := os.ReadFile(out)
		mu.Lock()
		seen = append(seen, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	url := srv.URL
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	cfg, err := config.Parse([]byte(`backends: {src: {type: file, dir: secrets}}
secrets: [{env: API_KEYS, ref: 'src:api_keys'}]
outputs: [{format: dotenv, path: run/secrets.env}]
refresh: {interval: 1h}
`), dir, allbackends.Registry())
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t)
	be, err := file.New(cfg.Abs("secrets"), log)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(cfg, map[string]fetcher.Backend{"src": be}, log)
	if err != nil {
		t.Fatal(err)
	}
	var n config.NotifyConfig
	n.HTTP = &config.NotifyHTTP{URL: url}
	n.Debounce = config.Duration(50 * time.Millisecond)
	zero := config.Duration(0)
	n.Jitter = &zero
	m, err := New(n, dir, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	told := &toldCounter{Manager: m}
	eng.Notifier = told

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	reasons := make(chan engine.Reason, 1)
	go func() { done <- eng.Run(ctx, reasons) }()
	defer func() { cancel(); <-done }()

	eventually(t, "the first write and its notification", func() bool { return count() == 1 })
	os.WriteFile(filepath.Join(src, "api_keys"), []byte("k2:ns1"), 0o600)
	eventually(t, "the notification of the change", func() bool { return count() == 2 })

	// Rewriting the same content changes no output: a refresh after it (the barrier) does
	// not tell the notifier, so no notification can follow.
	before := told.n.Load()
	os.WriteFile(filepath.Join(src, "api_keys"), []byte("k2:ns1"), 0o600)
	mark := time.Now()
	reasons <- engine.ReasonSignal
	eventually(t, "a refresh after the rewrite", func() bool { return eng.Staleness() < time.Since(mark) })
	if n := told.n.Load(); n != before {
		t.Errorf("the notifier was told %d more times after a same-content rewrite, want 0", n-before)
	}
	eventually(t, "the notifier to settle", func() bool { return m.Stats().Sent == 2 })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "API_KEYS='k1:ns1'\n" || seen[1] != "API_KEYS='k2:ns1'\n" {
		t.Errorf("the app read %q when notified, want the first then the new value, once each", seen)
	}
	if s := m.Stats(); s.Sent != 2 || s.Failed != 0 {
		t.Errorf("got %+v, want 2 sent", s)
	}
}

// toldCounter counts how often the engine tells the notifier that outputs changed.
type toldCounter struct {
	*Manager
	n atomic.Int32
}

func (c *toldCounter) Changed() { c.n.Add(1); c.Manager.Changed() }
