package fetchertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv/faultproxy"
)

// hangDeadline is the context deadline of each call made while the server hangs, and
// hangGrace how much later than it the call may return on a loaded machine.
const (
	hangDeadline = 2 * time.Second
	hangGrace    = 2 * time.Second
)

func checkThrottled(t *testing.T, h Harness) {
	if h.Endpoint() == "" {
		t.Skip("the backend has no server to throttle it")
	}
	w := newWatch(t)
	p := faultproxy.HTTP(t, h.Endpoint())
	b := h.Open(t, p.URL, w.log())
	ref := h.Seed(t, fields("k"))
	mustFetch(t, w, b, ref) // logged in, mounts known: the 429 meets the read itself
	p.Set(faultproxy.Fault{Kind: faultproxy.Throttle, RetryAfter: time.Second})
	_, err := fetch(t, w, b, ref)
	p.Clear()
	wantOnly(t, "a read answered 429", err, fetcher.ErrThrottled)
	if p.Hit() == 0 {
		t.Errorf("no request met the throttle")
	}
	if _, err := fetch(t, w, b, ref); err != nil {
		t.Errorf("a read after the throttling ended: %v", err)
	}
}

// checkHang: with the server taking requests and never answering, every call (the first
// one of a new backend, which logs in and looks things up; a later read; Previous) ends
// within its context's deadline.
func checkHang(t *testing.T, h Harness) {
	if h.Endpoint() == "" {
		t.Skip("the backend has no server that could hang")
	}
	w := newWatch(t)
	p := faultproxy.HTTP(t, h.Endpoint())
	ref := h.Seed(t, fields("k"))
	warm := h.Open(t, p.URL, w.log())
	first := mustFetch(t, w, warm, ref)
	cold := h.Open(t, p.URL, w.log())
	p.Set(faultproxy.Fault{Kind: faultproxy.Hang})
	defer p.Clear()

	bounded := func(what string, call func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
		defer cancel()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		select {
		case err := <-done:
			if w.err(err) == nil {
				t.Errorf("%s succeeded through a hung server", what)
			}
		case <-time.After(hangDeadline + hangGrace):
			t.Errorf("%s: still running %s after its deadline of %s", what, hangGrace, hangDeadline)
			p.Clear() // let it end, so the test does not leak it
			w.err(<-done)
		}
		t.Logf("%s ended after %s", what, time.Since(start).Round(time.Millisecond))
	}
	bounded("a read of a warm backend", func(ctx context.Context) error {
		_, err := warm.Fetch(ctx, ref)
		return err
	})
	bounded("the first read of a new backend", func(ctx context.Context) error {
		_, err := cold.Fetch(ctx, ref)
		return err
	})
	if vb, ok := warm.(fetcher.Versioned); ok {
		bounded("Previous", func(ctx context.Context) error {
			_, err := vb.Previous(ctx, ref, first)
			return err
		})
	}
	if p.Hit() == 0 {
		t.Errorf("no request met the hang")
	}
}

// checkConcurrent reads several secrets from many goroutines while one of them is
// rotated; every read returns one of the versions written, whole.
func checkConcurrent(t *testing.T, h Harness) {
	w := newWatch(t)
	b := h.Open(t, "", w.log())
	const secrets, readers, reads, rotations = 3, 8, 15, 3
	refs := make([]fetcher.Ref, secrets)
	versions := make([][]map[string]string, secrets)
	for i := range refs {
		v := fields("a", "b")
		refs[i] = h.Seed(t, v)
		versions[i] = []map[string]string{v}
	}
	var mu sync.Mutex // guards versions[0]
	valid := func(i int, s fetcher.Secret) bool {
		if i == 0 {
			mu.Lock()
			defer mu.Unlock()
		}
		for _, v := range versions[i] {
			if sameFields(s, v) == "" {
				return true
			}
		}
		return false
	}
	var wg sync.WaitGroup
	errs := make(chan error, readers*reads)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range reads {
				i := (r + n) % secrets
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				s, err := b.Fetch(ctx, refs[i])
				cancel()
				switch {
				case w.err(err) != nil:
					errs <- fmt.Errorf("reading %s: %w", refs[i], err)
				case !valid(i, s):
					errs <- fmt.Errorf("reading %s: an answer that matches no version written (keys %v)", refs[i], s.Keys())
				}
			}
		}()
	}
	for range rotations {
		v := fields("a", "b")
		mu.Lock()
		versions[0] = append(versions[0], v) // listed before it is written: a read may see it at once
		mu.Unlock()
		h.Rotate(t, refs[0], v)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
