package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/patas/patas-secrets/fetcher"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// kubeVolume lays out a directory the way the kubelet's AtomicWriter does: the files live in
// a timestamped directory, ..data points at it, and each name is a symlink into ..data.
type kubeVolume struct {
	t   *testing.T
	dir string
	gen int
}

func (k *kubeVolume) publish(files map[string]string) {
	k.t.Helper()
	k.gen++
	ts := filepath.Join(k.dir, "..2026_11_28_00_00_0"+string(rune('0'+k.gen)))
	if err := os.Mkdir(ts, 0o755); err != nil {
		k.t.Fatal(err)
	}
	for n, c := range files {
		write(k.t, filepath.Join(ts, n), c)
	}
	old, _ := os.Readlink(filepath.Join(k.dir, "..data"))
	tmp := filepath.Join(k.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.dir, "..data")); err != nil {
		k.t.Fatal(err)
	}
	for n := range files {
		link := filepath.Join(k.dir, n)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", n), link); err != nil {
				k.t.Fatal(err)
			}
		}
	}
	if old != "" {
		_ = os.RemoveAll(filepath.Join(k.dir, old))
	}
}

// watchCount runs Watch and counts the changes it reports.
type watchCount struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func startWatch(t *testing.T, b *Backend, refs ...string) (*watchCount, func()) {
	t.Helper()
	var rs []fetcher.Ref
	for _, r := range refs {
		ref, _ := fetcher.ParseRef(r)
		rs = append(rs, ref)
	}
	wc := &watchCount{ch: make(chan struct{}, 100)}
	ready := make(chan struct{})
	b.watching = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.Watch(ctx, rs, func() { wc.mu.Lock(); wc.n++; wc.mu.Unlock(); wc.ch <- struct{}{} }); err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	<-ready
	return wc, func() { cancel(); <-done }
}

func (w *watchCount) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-w.ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no change reported within 5s", what)
	}
}

// quiet waits until the watcher has compared the files after the events so far (the
// barrier), then checks that it reported no change.
func (w *watchCount) quiet(t *testing.T, what string, checks <-chan struct{}) {
	t.Helper()
	select {
	case <-checks:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the watcher did not compare the files within 10s", what)
	}
	select {
	case <-w.ch:
		t.Fatalf("%s: a change was reported, want none", what)
	default:
	}
}

func TestWatchKubernetesDataSwap(t *testing.T) {
	k := &kubeVolume{t: t, dir: t.TempDir()}
	k.publish(map[string]string{"api_keys": "old-key:ns"})
	b, _ := New(k.dir, zap.NewNop())
	wc, stop := startWatch(t, b, "k:api_keys")
	defer stop()
	for i, v := range []string{"old-key:ns,new-key:ns", "new-key:ns"} {
		k.publish(map[string]string{"api_keys": v})
		wc.wait(t, "..data swap")
		s, err := fetch(t, b, "k:api_keys")
		if err != nil || string(s.Value.Reveal()) != v {
			t.Fatalf("swap %d: got %q, %v; want %q", i, s.Value.Reveal(), err, v)
		}
	}
	// Three swaps in a row must not end the watch: it watches the directory.
	k.publish(map[string]string{"api_keys": "third"})
	wc.wait(t, "third swap")
}

func TestWatchRenameReplace(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "db_password"), "one")
	b, _ := New(dir, zap.NewNop())
	wc, stop := startWatch(t, b, "f:db_password")
	defer stop()
	for _, v := range []string{"two", "three"} {
		// An editor's save: write a new file beside it, rename it over the old one.
		tmp := filepath.Join(dir, ".db_password.swp")
		write(t, tmp, v)
		if err := os.Rename(tmp, filepath.Join(dir, "db_password")); err != nil {
			t.Fatal(err)
		}
		wc.wait(t, "rename-replace to "+v)
	}
}

func TestWatchIgnoresTouchAndOtherFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "db_password")
	write(t, p, "same")
	b, _ := New(dir, zap.NewNop())
	checks := make(chan struct{}, 100)
	b.checked = func() { checks <- struct{}{} }
	wc, stop := startWatch(t, b, "f:db_password")
	defer stop()
	now := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, now, now); err != nil {
		t.Fatal(err)
	}
	write(t, p, "same") // rewritten with the same content
	write(t, filepath.Join(dir, "unrelated"), "x")
	wc.quiet(t, "touch, same-content rewrite and an unrelated file", checks)
	write(t, p, "different")
	wc.wait(t, "content change")
}

func TestWatchDeletionIsAChange(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "db_password")
	write(t, p, "x")
	b, _ := New(dir, zap.NewNop())
	wc, stop := startWatch(t, b, "f:db_password")
	defer stop()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	wc.wait(t, "deletion")
}

// TestWatchFIFOIsRefused: a named pipe at a watched ref must not block the watcher's
// hashing (open() on a FIFO without a writer never returns); replacing it with a regular
// file is a change. Fetch refuses it too, naming it.
func TestWatchFIFOIsRefused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "db_password")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := New(dir, zap.NewNop())
	if _, err := fetch(t, b, "f:db_password"); err == nil || !strings.Contains(err.Error(), "is a named pipe (FIFO)") {
		t.Errorf("Fetch of a FIFO: got %v, want a refusal naming it", err)
	}
	ref, _ := fetcher.ParseRef("f:db_password")
	ready := make(chan struct{})
	b.watching = func() { close(ready) }
	changed := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Watch(ctx, []fetcher.Ref{ref}, func() { changed <- struct{}{} })
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the watcher did not get past hashing a FIFO within 30s")
	}
	tmp := filepath.Join(dir, ".new")
	write(t, tmp, "pw")
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("replacing the FIFO with a file was not reported")
	}
}

// TestWatchBaselineIsWhatFetchRead: a change between a refresh's read and the start of the
// watch is reported at once, not at the next interval.
func TestWatchBaselineIsWhatFetchRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "db_password")
	write(t, p, "one")
	b, _ := New(dir, zap.NewNop())
	if s, err := fetch(t, b, "f:db_password"); err != nil || string(s.Value.Reveal()) != "one" {
		t.Fatalf("Fetch: %v", err)
	}
	write(t, p, "two") // after the refresh read, before the watch starts
	wc, stop := startWatch(t, b, "f:db_password")
	defer stop()
	wc.wait(t, "the change made before the watch started")
}
