package sinks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

// TestRendered: a template output writes exactly what was rendered, with its mode; it
// refuses to write before a rendering, after ClearContent, or an empty rendering, and the
// previous file stays as it was.
func TestRendered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "userlist.txt")
	s, err := New("template", path, FileOptions{Mode: 0o400, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := s.(*Rendered)
	ctx := context.Background()
	if _, err := r.Write(ctx, Snapshot{}); !errors.Is(err, errNotRendered) {
		t.Errorf("before rendering: got %v, want errNotRendered", err)
	}
	r.SetContent(fetcher.StringValue("\"patas\" \"pw\"\n"))
	if err := r.Check(Snapshot{}); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Write(ctx, Snapshot{}); err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	if changed, err := r.Write(ctx, Snapshot{}); err != nil || changed {
		t.Errorf("same content: changed=%v err=%v, want no write", changed, err)
	}
	r.SetContent(fetcher.StringValue(""))
	if err := r.Check(Snapshot{}); !errors.Is(err, errRenderedEmpty) {
		t.Errorf("empty: got %v, want errRenderedEmpty", err)
	}
	r.ClearContent()
	if _, err := r.Write(ctx, Snapshot{}); !errors.Is(err, errNotRendered) {
		t.Errorf("after ClearContent: got %v, want errNotRendered", err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != "\"patas\" \"pw\"\n" || fi.Mode().Perm() != 0o400 {
		t.Errorf("got %q mode %v, want the first rendering with mode 0400", b, fi.Mode().Perm())
	}
}
