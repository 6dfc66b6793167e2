package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

func TestBackoffFollowsRetryConfig(t *testing.T) {
	e, _, _, _ := setup(t, "  - {env: A, ref: 'f:a'}\n", "refresh: {interval: 1m, retry: {backoff: 100ms, max_backoff: 1s}}\n")
	for _, tt := range []struct {
		failures int
		want     time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {40, time.Second}} {
		got := e.backoff(tt.failures)
		if lo, hi := tt.want*8/10, tt.want*12/10; got < lo || got > hi {
			t.Errorf("failure %d: got %v, want %v ±20%%", tt.failures, got, tt.want)
		}
	}
	// The interval caps the backoff too: a refresh is due then anyway.
	e, _, _, _ = setup(t, "  - {env: A, ref: 'f:a'}\n", "refresh: {interval: 2s, retry: {backoff: 1s, max_backoff: 1h}}\n")
	if got := e.backoff(10); got > 2400*time.Millisecond {
		t.Errorf("got %v, want at most the 2s interval +20%%", got)
	}
}

// TestOnFailureExit: with on_failure: exit, Run returns ErrRetriesExhausted after exactly
// retry.attempts failed refreshes and leaves the last good output in place.
func TestOnFailureExit(t *testing.T) {
	e, f, out, _ := setup(t, "  - {env: A, ref: 'f:a'}\n",
		"refresh: {interval: 1h, on_failure: exit, retry: {attempts: 3, backoff: 10ms, max_backoff: 20ms}}\nlisten: \"off\"\n")
	f.put("a", "first-value")
	if err := e.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.fail("a", errors.New("backend down"))
	reads := f.totalReads()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := e.Run(ctx, nil)
	if !errors.Is(err, ErrRetriesExhausted) || !strings.Contains(err.Error(), "3 consecutive") {
		t.Fatalf("got %v, want ErrRetriesExhausted after 3 failures", err)
	}
	if n := f.totalReads() - reads; n != 3 {
		t.Errorf("got %d reads, want 3 (one per attempt)", n)
	}
	if !fileHas(out, "A='first-value'\n")() {
		t.Error("the last good output was not kept")
	}
}

// TestOnFailureKeepServing: the default keeps retrying past retry.attempts and returns nil
// when cancelled.
func TestOnFailureKeepServing(t *testing.T) {
	e, f, out, _ := setup(t, "  - {env: A, ref: 'f:a'}\n",
		"refresh: {interval: 1h, retry: {attempts: 2, backoff: 10ms, max_backoff: 20ms}}\nlisten: \"off\"\n")
	f.put("a", "first-value")
	if err := e.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.fail("a", errors.New("backend down"))
	reads := f.totalReads()
	stop := runInBackground(t, e, nil)
	waitFor(t, "more failed refreshes than retry.attempts", func() bool { return f.totalReads()-reads > 4 })
	stop()
	if !fileHas(out, "A='first-value'\n")() {
		t.Error("the last good output was not kept")
	}
}

// gate is a backend whose reads block until released, counting how many are in flight.
type gate struct {
	mu            sync.Mutex
	inFlight, max int
	release       chan struct{}
	arrived       chan struct{}
}

func (g *gate) Fetch(ctx context.Context, r fetcher.Ref) (fetcher.Secret, error) {
	g.mu.Lock()
	g.inFlight++
	g.max = max(g.max, g.inFlight)
	g.mu.Unlock()
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	return fetcher.Secret{Value: fetcher.StringValue("value-of-" + r.Path)}, nil
}

func (g *gate) Close() error { return nil }

// TestConcurrencyLimit: refresh.concurrency bounds the reads in flight. Ten reads with a
// limit of 3: exactly 3 arrive, and no fourth arrives until one is released.
func TestConcurrencyLimit(t *testing.T) {
	var secrets strings.Builder
	for i := range 10 {
		fmt.Fprintf(&secrets, "  - {env: V%d, ref: 'g:s%d'}\n", i, i)
	}
	yaml := "backends: {g: {type: file, dir: unused}}\nsecrets:\n" + secrets.String() +
		"outputs: [{format: dotenv, path: out.env}]\nrefresh: {concurrency: 3}\n"
	cfg, err := config.Parse([]byte(yaml), t.TempDir(), allbackends.Registry())
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{release: make(chan struct{}), arrived: make(chan struct{}, 10)}
	e, err := New(cfg, map[string]fetcher.Backend{"g": g}, newLogger(&logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.RunOnce(context.Background()) }()
	for range 3 {
		<-g.arrived
	}
	select {
	case <-g.arrived:
		t.Fatal("a fourth read started while three were in flight")
	case g.release <- struct{}{}: // one finishes: the barrier after which a fourth may start
	}
	for range 7 {
		<-g.arrived
		g.release <- struct{}{}
	}
	for range 2 {
		g.release <- struct{}{}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g.max != 3 {
		t.Errorf("got at most %d reads in flight, want 3", g.max)
	}
}

func TestRetryConfigProblems(t *testing.T) {
	base := "backends: {f: {type: file, dir: x}}\nsecrets: [{env: A, ref: 'f:a'}]\noutputs: [{format: dotenv, path: o}]\n"
	for _, tt := range []struct{ refresh, want string }{
		{"{on_failure: restart}", `refresh.on_failure: unknown value "restart"`},
		{"{retry: {attempts: 0}}", "refresh.retry.attempts: must be at least 1"},
		{"{retry: {backoff: 10s, max_backoff: 1s}}", "refresh.retry.max_backoff: 1s is less than retry.backoff"},
		{"{concurrency: -1}", "refresh.concurrency: must be between 1 and 256"},
		{"{retry: {tries: 3}}", "in refresh.retry"},
	} {
		_, err := config.Parse([]byte(base+"refresh: "+tt.refresh+"\n"), t.TempDir(), allbackends.Registry())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.refresh, err, tt.want)
		}
	}
}
