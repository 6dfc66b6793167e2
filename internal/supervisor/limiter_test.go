package supervisor

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := limiter{max: 3, window: time.Minute, backoff: 2 * time.Second}
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	if got := l.next(t0); !got.Equal(t0) {
		t.Fatalf("first action: got %v, want now", got.Sub(t0))
	}
	l.record(t0)
	// Second within the window: backoff after the first.
	if got := l.next(at(time.Second)); !got.Equal(at(2 * time.Second)) {
		t.Errorf("second: got %v, want 2s", got.Sub(t0))
	}
	l.record(at(2 * time.Second))
	// Third: doubled backoff (4s after the second).
	if got := l.next(at(2 * time.Second)); !got.Equal(at(6 * time.Second)) {
		t.Errorf("third: got %v, want 6s", got.Sub(t0))
	}
	l.record(at(6 * time.Second))
	// Fourth: the cap of 3 per minute wins over the 8s backoff: wait for the first to leave.
	if got := l.next(at(7 * time.Second)); !got.Equal(at(time.Minute)) {
		t.Errorf("fourth: got %v, want 1m", got.Sub(t0))
	}
	// After a quiet window, immediate again.
	if got := l.next(at(10 * time.Minute)); !got.Equal(at(10 * time.Minute)) {
		t.Errorf("after quiet: got %v, want immediate", got.Sub(t0))
	}
}

// TestLimiterBoundsAStorm asks for an action every 10ms for 10 minutes and counts what the
// limiter lets through.
func TestLimiterBoundsAStorm(t *testing.T) {
	l := limiter{max: 5, window: 5 * time.Minute, backoff: 2 * time.Second}
	t0 := time.Unix(0, 0)
	n := 0
	for now := t0; now.Before(t0.Add(10 * time.Minute)); now = now.Add(10 * time.Millisecond) {
		if !l.next(now).After(now) {
			l.record(now)
			n++
		}
	}
	if n > 10 {
		t.Errorf("got %d actions in 10 minutes, want at most 2×5", n)
	}
	if n < 2 {
		t.Errorf("got %d actions, want the limiter to let some through", n)
	}
}
