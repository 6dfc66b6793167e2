package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Base: time.Second, Max: time.Minute}
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d): got %s, want %s", n, got, want)
		}
	}
	if got := p.Delay(1000); got != time.Minute {
		t.Errorf("Delay(1000): got %s, want the cap %s", got, time.Minute)
	}
	if got := (Policy{Base: time.Second}).Delay(100); got <= 0 {
		t.Errorf("uncapped Delay(100): got %s, want a positive delay", got)
	}
}

func TestDelayJitter(t *testing.T) {
	spread := Policy{Base: time.Second, Max: 10 * time.Second, Spread: 0.2}
	full := Policy{Base: time.Second, Max: 10 * time.Second, Full: true}
	seenLow, seenHigh := false, false
	for i := 0; i < 2000; i++ {
		d := spread.Delay(1) // 2s ± 20%
		if d < 1600*time.Millisecond || d > 2400*time.Millisecond {
			t.Fatalf("spread Delay(1): got %s, want within 1.6s..2.4s", d)
		}
		seenLow = seenLow || d < 1900*time.Millisecond
		seenHigh = seenHigh || d > 2100*time.Millisecond
		f := full.Delay(10) // capped at 10s, then uniform over (0, 10s]
		if f <= 0 || f > 10*time.Second {
			t.Fatalf("full Delay(10): got %s, want within (0, 10s]", f)
		}
	}
	if !seenLow || !seenHigh {
		t.Errorf("spread delays never left 1.9s..2.1s in 2000 draws: jitter is not applied")
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Errorf("got %v, want nil after the delay", err)
	}
}
