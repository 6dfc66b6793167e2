package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is an in-memory backend: path -> secret, with injectable errors and a read count.
type fake struct {
	mu      sync.Mutex
	secrets map[string]fetcher.Secret
	errs    map[string]error
	reads   map[string]int
}

var _ fetcher.Backend = (*fake)(nil)

func newFake() *fake {
	return &fake{secrets: map[string]fetcher.Secret{}, errs: map[string]error{}, reads: map[string]int{}}
}

func (f *fake) put(path, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, _ := fetcher.ParseJSONObject([]byte(value))
	f.secrets[path] = fetcher.Secret{Value: fetcher.StringValue(value), Data: data}
}

func (f *fake) fail(path string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[path] = err
}

func (f *fake) Fetch(_ context.Context, r fetcher.Ref) (fetcher.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[r.String()]++
	if err := f.errs[r.Path]; err != nil {
		return fetcher.Secret{}, err
	}
	s, ok := f.secrets[r.Path]
	if !ok {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", r, fetcher.ErrNotFound)
	}
	return s, nil
}

func (f *fake) Close() error { return nil }

func (f *fake) totalReads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.reads {
		n += c
	}
	return n
}

// logBuffer is a debug-level JSON logger whose output a test can search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func newLogger(w *logBuffer) *zap.Logger {
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(w), zap.DebugLevel))
}

// setup builds an engine over one fake backend named "f" writing dotenv to dir/out.env.
func setup(t *testing.T, secrets string, extra string) (*Engine, *fake, string, *logBuffer) {
	t.Helper()
	dir := t.TempDir()
	yaml := "backends: {f: {type: file, dir: unused}}\nsecrets:\n" + secrets +
		"outputs: [{format: dotenv, path: out.env, mode: \"0600\"}]\n" + extra
	cfg, err := config.Parse([]byte(yaml), dir, allbackends.Registry())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	f := newFake()
	logs := &logBuffer{}
	e, err := New(cfg, map[string]fetcher.Backend{"f": f}, newLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	return e, f, filepath.Join(dir, "out.env"), logs
}

func resolved(t *testing.T, e *Engine) map[string]string {
	t.Helper()
	snap, err := e.Resolve(context.Background())
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	got := map[string]string{}
	for _, v := range snap.Vars {
		got[v.Name] = string(v.Value.Reveal())
	}
	return got
}

func TestResolve(t *testing.T) {
	e, f, _, _ := setup(t, `
  - env: API_KEYS
    ref: f:patas#api_keys
  - ref: f:patas
    expand: true
    prefix: PATAS_
  - env: DATABASE_URL
    template: 'postgresql+asyncpg://patas:{{ secret "f:db_password" | urlencode }}@db:5432/patas'
  - env: LLM_API_KEY
    ref: f:llm
  - env: EMBEDDING_API_KEY
    ref: f:embedding
    optional: true
    fallback: LLM_API_KEY
  - env: TAS_API_KEY
    ref: f:tas
    optional: true
`, "validate: {required: [DATABASE_URL, API_KEYS]}\n")
	f.put("patas", `{"api_keys": "k1:ns1,k2:ns2", "database-url": "x", "redis.url": "redis://r"}`)
	f.put("db_password", "p@ss/w:rd")
	f.put("llm", "sk-llm")
	got := resolved(t, e)
	want := map[string]string{
		"API_KEYS":           "k1:ns1,k2:ns2",
		"PATAS_API_KEYS":     "k1:ns1,k2:ns2",
		"PATAS_DATABASE_URL": "x",
		"PATAS_REDIS_URL":    "redis://r",
		"DATABASE_URL":       "postgresql+asyncpg://patas:p%40ss%2Fw%3Ard@db:5432/patas",
		"LLM_API_KEY":        "sk-llm",
		"EMBEDDING_API_KEY":  "sk-llm",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// patas is used by two entries: one read per refresh.
	if n := f.reads["f:patas"]; n != 1 {
		t.Errorf("f:patas read %d times, want 1", n)
	}
	f.put("embedding", "sk-embed")
	if got := resolved(t, e)["EMBEDDING_API_KEY"]; got != "sk-embed" {
		t.Errorf("with its own secret: got %q, want sk-embed", got)
	}
}

func TestResolveErrorsNameTheEntry(t *testing.T) {
	netErr := errors.New("connection refused")
	tests := []struct {
		name, secrets, want string
		prep                func(*fake)
	}{
		{"missing file", "  - env: A\n    ref: f:a\n", "secrets[0] (A): f:a: secret not found", nil},
		{"missing key", "  - env: A\n    ref: f:a#nope\n", `secrets[0] (A): f:a#nope: no key "nope" in the secret (keys present: ["k"])`, func(f *fake) { f.put("a", `{"k":"v"}`) }},
		{"key of a plain secret", "  - env: A\n    ref: f:a#k\n", "not a JSON object", func(f *fake) { f.put("a", "plain") }},
		{"whole of an object is fine", "  - env: A\n    ref: f:a\n  - env: B\n    ref: f:b\n", "secrets[1] (B)", func(f *fake) { f.put("a", `{"k":"v"}`) }},
		{"empty value", "  - env: A\n    ref: f:a\n", "value is empty", func(f *fake) { f.put("a", "") }},
		{"expand of a plain secret", "  - ref: f:a\n    expand: true\n", "not a JSON object", func(f *fake) { f.put("a", "plain") }},
		{"expand empty field", "  - ref: f:a\n    expand: true\n", `key "k" is empty`, func(f *fake) { f.put("a", `{"k":""}`) }},
		{"expand bad name", "  - ref: f:a\n    expand: true\n", "does not make a valid variable name", func(f *fake) { f.put("a", `{"1x":"v"}`) }},
		{"expand duplicate", "  - env: K\n    ref: f:b\n  - ref: f:a\n    expand: true\n", "K is already set by secrets[0]", func(f *fake) { f.put("a", `{"k":"v"}`); f.put("b", "x") }},
		{"optional tolerates missing, not outages", "  - env: A\n    ref: f:a\n    optional: true\n", "connection refused", func(f *fake) { f.fail("a", netErr) }},
		{"template missing secret", "  - env: A\n    template: 'x{{ secret \"f:a\" }}'\n", "secrets[0] (A)", nil},
		{"fallback also missing", "  - env: A\n    ref: f:a\n    fallback: B\n  - env: B\n    ref: f:b\n    optional: true\n", "missing, and its fallback B is not set", nil},
		{"required", "  - env: A\n    ref: f:a\n    optional: true\n", "validate.required: A is missing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := ""
			if tt.name == "required" {
				extra = "validate: {required: [A]}\n"
			}
			e, f, _, _ := setup(t, tt.secrets, extra)
			if tt.prep != nil {
				tt.prep(f)
			}
			_, err := e.Resolve(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRunOnceFailsClosed(t *testing.T) {
	e, f, out, _ := setup(t, "  - env: A\n    ref: f:a\n  - env: B\n    ref: f:b\n", "")
	f.put("a", "1")
	f.put("b", "2")
	if err := e.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(out)
	stBefore, _ := os.Stat(out)
	f.put("a", "changed")
	f.fail("b", errors.New("backend down"))
	if err := e.RunOnce(context.Background()); err == nil {
		t.Fatal("want an error while b is down")
	}
	after, _ := os.ReadFile(out)
	stAfter, _ := os.Stat(out)
	if !bytes.Equal(before, after) || !stBefore.ModTime().Equal(stAfter.ModTime()) {
		t.Errorf("output changed after a failed refresh:\nbefore %q\nafter  %q", before, after)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("output dir holds %d entries, want only the output (no temp files)", len(entries))
	}
}

func TestRunOnceWritesNothingWhenNothingExisted(t *testing.T) {
	e, _, out, _ := setup(t, "  - env: A\n    ref: f:a\n", "")
	if err := e.RunOnce(context.Background()); err == nil {
		t.Fatal("want an error")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after a failed once: %v", err)
	}
}

func TestRunOnceSkipsIdenticalContent(t *testing.T) {
	e, f, out, logs := setup(t, "  - env: A\n    ref: f:a\n", "")
	f.put("a", "1")
	for range 2 {
		if err := e.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "output written"); n != 1 {
		t.Errorf("output written %d times for identical content, want 1", n)
	}
	if b, _ := os.ReadFile(out); string(b) != "A='1'\n" {
		t.Errorf("got %q", b)
	}
}
