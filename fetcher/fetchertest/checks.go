package fetchertest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

func checkRead(t *testing.T, h Harness) {
	w := newWatch(t)
	b := h.Open(t, "", w.log())
	want := fields("api_key", "database_url")
	ref := h.Seed(t, want)
	s := mustFetch(t, w, b, ref)
	if d := sameFields(s, want); d != "" {
		t.Errorf("read %s: %s", ref, d)
	}
	caps := h.Caps()
	if caps.Versions && s.Version == "" {
		t.Errorf("read %s: no Version, but the backend declares versions", ref)
	}
	if caps.Created && s.Created.IsZero() {
		t.Errorf("read %s: no Created time, but the backend declares it", ref)
	}
	// The same read twice gives the same answer (no state lost between reads).
	if d := sameFields(mustFetch(t, w, b, ref), want); d != "" {
		t.Errorf("second read of %s: %s", ref, d)
	}
}

func checkNotFound(t *testing.T, h Harness) {
	w := newWatch(t)
	b := h.Open(t, "", w.log())
	h.Seed(t, fields("k")) // the store is not empty
	ref := h.Missing(t)
	_, err := fetch(t, w, b, ref)
	wantOnly(t, "reading the missing "+ref.String(), err, fetcher.ErrNotFound)
}

func checkDenied(t *testing.T, h Harness) {
	w := newWatch(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	err := w.err(h.ReadDenied(t, ctx, w.log()))
	wantOnly(t, "a refused read", err, fetcher.ErrPermission)
}

func checkMissingKey(t *testing.T, h Harness) {
	w := newWatch(t)
	b := h.Open(t, "", w.log())
	want := fields("api_key", "database_url")
	ref := h.Seed(t, want)
	s := mustFetch(t, w, b, ref)
	_, err := s.Field("typo")
	w.err(err)
	wantOnly(t, "key typo of "+ref.String(), err, fetcher.ErrMissingKey)
	if err != nil {
		for _, name := range []string{`"typo"`, `"api_key"`, `"database_url"`} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("the missing-key error does not name %s (the key, then the keys present): %v", name, err)
			}
		}
	}
}

func checkPinned(t *testing.T, h Harness) {
	w := newWatch(t)
	b := h.Open(t, "", w.log())
	v1 := fields("api_key")
	ref := h.Seed(t, v1)
	first := mustFetch(t, w, b, ref)
	v2 := fields("api_key")
	h.Rotate(t, ref, v2)
	cur := mustFetch(t, w, b, ref)
	if d := sameFields(cur, v2); d != "" {
		t.Fatalf("after a rotation, %s: %s", ref, d)
	}
	pinned := ref
	pinned.Version = first.Version
	if !h.Caps().Versions {
		if pinned.Version == "" {
			pinned.Version = "1"
		}
		if s, err := fetch(t, w, b, pinned); err == nil {
			t.Errorf("%s: a pinned read succeeded (%d keys), but the backend declares no versions", pinned, len(s.Data))
		}
		return
	}
	if cur.Version == first.Version {
		t.Errorf("rotation kept version %q", cur.Version)
	}
	if d := sameFields(mustFetch(t, w, b, pinned), v1); d != "" {
		t.Errorf("pinned %s: %s", pinned, d)
	}
	pinned.Version = cur.Version
	if d := sameFields(mustFetch(t, w, b, pinned), v2); d != "" {
		t.Errorf("pinned %s: %s", pinned, d)
	}
}

func checkPrevious(t *testing.T, h Harness) {
	w := newWatch(t)
	b := h.Open(t, "", w.log())
	v1 := fields("api_keys")
	ref := h.Seed(t, v1)
	first := mustFetch(t, w, b, ref)
	vb, ok := b.(fetcher.Versioned)
	previous := func(cur fetcher.Secret) (fetcher.Secret, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		s, err := vb.Previous(ctx, ref, cur)
		return s, w.err(err)
	}
	if !h.Caps().Previous {
		if !ok {
			return
		}
		if _, err := previous(first); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("the backend declares no previous versions, but implements fetcher.Versioned and answers %v, want errors.ErrUnsupported", err)
		}
		return
	}
	if !ok {
		t.Fatalf("the backend declares previous versions but does not implement fetcher.Versioned")
	}
	if _, err := previous(first); !errors.Is(err, fetcher.ErrNotFound) {
		t.Errorf("previous of a first version: %v, want ErrNotFound", err)
	}
	v2 := fields("api_keys")
	h.Rotate(t, ref, v2)
	cur := mustFetch(t, w, b, ref)
	p, err := previous(cur)
	if err != nil {
		t.Fatalf("previous after a rotation: %v", err)
	}
	if d := sameFields(p, v1); d != "" {
		t.Errorf("previous version: %s", d)
	}
	if p.Created.IsZero() {
		t.Errorf("previous version has no creation time")
	}
	if !cur.Created.IsZero() && p.Created.After(cur.Created) {
		t.Errorf("previous version created %v, after the current one (%v)", p.Created, cur.Created)
	}
	if first.Version != "" && p.Version != first.Version {
		t.Errorf("previous version is %q, want %q", p.Version, first.Version)
	}
	// One more rotation: the previous is now v2, not v1.
	v3 := fields("api_keys")
	h.Rotate(t, ref, v3)
	p, err = previous(mustFetch(t, w, b, ref))
	if err != nil {
		t.Fatalf("previous after a second rotation: %v", err)
	}
	if d := sameFields(p, v2); d != "" {
		t.Errorf("previous after a second rotation: %s", d)
	}
}

func checkCancelled(t *testing.T, h Harness) {
	w := newWatch(t)
	b := h.Open(t, "", w.log())
	ref := h.Seed(t, fields("k"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Fetch(ctx, ref); w.err(err) == nil {
		t.Errorf("a read with a cancelled context succeeded")
	}
}
