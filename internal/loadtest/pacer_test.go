package loadtest

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestPacerSchedule: at 100/s the operations asked for at the same moment
// start 10 ms apart.
func TestPacerSchedule(t *testing.T) {
	p := NewPacer(100, 1)
	for i := range 5 {
		if got, want := p.Reserve(t0), t0.Add(time.Duration(i)*10*time.Millisecond); !got.Equal(want) {
			t.Fatalf("operation %d at %v, want %v", i, got.Sub(t0), want.Sub(t0))
		}
	}
}

// TestPacerBurst: after an idle second, a burst of 3 starts at once and
// the fourth waits one interval; with burst 1 no credit accumulates.
func TestPacerBurst(t *testing.T) {
	p := NewPacer(100, 3)
	p.Reserve(t0)
	later := t0.Add(time.Second)
	for i := range 3 {
		if got := p.Reserve(later); !got.Equal(later) {
			t.Fatalf("burst operation %d delayed by %v", i, got.Sub(later))
		}
	}
	if got := p.Reserve(later); got.Sub(later) != 10*time.Millisecond {
		t.Fatalf("operation after the burst delayed by %v, want 10ms", got.Sub(later))
	}
	q := NewPacer(100, 1)
	q.Reserve(t0)
	q.Reserve(later)
	if got := q.Reserve(later); got.Sub(later) != 10*time.Millisecond {
		t.Fatalf("burst 1: second operation delayed by %v, want 10ms", got.Sub(later))
	}
}

// TestPacerLate: an operation that starts late does not push the next
// ones back (the bucket, depth 2, starts full): the average rate holds.
func TestPacerLate(t *testing.T) {
	p := NewPacer(10, 2)
	for i, want := range []time.Duration{0, 0, 100 * time.Millisecond} {
		if got := p.Reserve(t0).Sub(t0); got != want {
			t.Fatalf("operation %d at %v, want %v", i, got, want)
		}
	}
	late := t0.Add(250 * time.Millisecond) // the fourth was due at 200ms
	if got := p.Reserve(late); !got.Equal(late) {
		t.Fatalf("late operation at %v, want at once", got.Sub(t0))
	}
	if got := p.Reserve(late).Sub(t0); got != 300*time.Millisecond {
		t.Fatalf("next operation at %v, want 300ms", got)
	}
}

// TestPacerUnlimited: rate 0 never waits.
func TestPacerUnlimited(t *testing.T) {
	p := NewPacer(0, 1)
	for range 3 {
		if got := p.Reserve(t0); !got.Equal(t0) {
			t.Fatalf("unlimited pacer waits until %v", got)
		}
	}
}

// TestPacerWait: 101 operations at 50/s take 2 s of (fake) time, and a
// cancelled context ends the wait.
func TestPacerWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(50, 1)
		start := time.Now()
		for range 101 {
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("101 operations at 50/s took %v, want 2s", d)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(5 * time.Millisecond)
			cancel()
		}()
		if err := p.Wait(ctx); err != context.Canceled {
			t.Fatalf("Wait after cancel: %v", err)
		}
	})
}
