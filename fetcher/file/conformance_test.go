package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/fetchertest"
)

// TestConformance runs the backend suite on the two layouts the file backend reads: a
// Docker Swarm style directory of plain files, and a Kubernetes secret volume, where each
// name is a symlink into ..data, itself a symlink to a timestamped directory that the
// kubelet swaps atomically on an update.
func TestConformance(t *testing.T) {
	t.Run("swarm", func(t *testing.T) { fetchertest.Run(t, &fileHarness{dir: t.TempDir()}) })
	t.Run("kubernetes", func(t *testing.T) { fetchertest.Run(t, &fileHarness{dir: t.TempDir(), kube: true}) })
}

type fileHarness struct {
	dir  string
	kube bool
	seq  atomic.Int64
}

func (h *fileHarness) Caps() fetchertest.Caps {
	return fetchertest.Caps{Note: "files have no versions or history"}
}

func (h *fileHarness) Endpoint() string { return "" }

func (h *fileHarness) Open(t *testing.T, _ string, log *zap.Logger) fetcher.Backend {
	b, err := New(h.dir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func (h *fileHarness) Seed(t *testing.T, fields map[string]string) fetcher.Ref {
	name := fmt.Sprintf("secret_%d", h.seq.Add(1))
	h.put(t, name, fields)
	return fetcher.Ref{Backend: "f", Path: name}
}

func (h *fileHarness) Rotate(t *testing.T, ref fetcher.Ref, fields map[string]string) {
	h.put(t, ref.Path, fields)
}

func (h *fileHarness) Missing(*testing.T) fetcher.Ref {
	return fetcher.Ref{Backend: "f", Path: "no_such_secret"}
}

// ReadDenied reads a file of mode 0400 owned by root as uid 65534. Run as root, the read
// happens with the process's effective uid set to 65534 for its duration (real and saved
// uid stay 0, so it can be set back); the backend reads on a goroutine of its own, so a
// per-thread fsuid would not reach it.
func (h *fileHarness) ReadDenied(t *testing.T, ctx context.Context, log *zap.Logger) error {
	ref := h.Seed(t, map[string]string{"k": "CANARY-conformance-denied"})
	p := filepath.Join(h.dir, ref.Path)
	if h.kube {
		p = filepath.Join(h.dir, "..data", ref.Path)
	}
	if err := os.Chmod(p, 0o400); err != nil {
		t.Fatal(err)
	}
	b := h.Open(t, "", log)
	if os.Geteuid() != 0 {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		_, err := b.Fetch(ctx, ref)
		return err
	}
	if err := syscall.Setresuid(-1, 65534, -1); err != nil {
		t.Fatalf("seteuid(65534): %v", err)
	}
	_, err := b.Fetch(ctx, ref)
	if rerr := syscall.Setresuid(-1, 0, -1); rerr != nil {
		panic("cannot return to euid 0: " + rerr.Error()) // the rest of the tests would run as nobody
	}
	return err
}

// put writes fields as a JSON file, in place (swarm) or by swapping ..data (kubernetes).
func (h *fileHarness) put(t *testing.T, name string, fields map[string]string) {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	if !h.kube {
		tmp := filepath.Join(h.dir, ".tmp-"+name)
		if err := os.WriteFile(tmp, b, 0o444); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(h.dir, name)); err != nil {
			t.Fatal(err)
		}
		return
	}
	// As the kubelet's AtomicWriter: a new timestamped directory with every file, ..data
	// swapped to it with a rename, the old directory removed, NAME -> ..data/NAME.
	old, _ := os.Readlink(filepath.Join(h.dir, "..data"))
	next := filepath.Join(h.dir, fmt.Sprintf("..%s.%d", time.Now().UTC().Format("2006_01_02_15_04_05"), h.seq.Add(1)))
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		entries, err := os.ReadDir(filepath.Join(h.dir, old))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			c, err := os.ReadFile(filepath.Join(h.dir, old, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(next, e.Name()), c, 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(next, name), b, 0o444); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(h.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(next), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(h.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(h.dir, old)); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(h.dir, name)
	if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}
