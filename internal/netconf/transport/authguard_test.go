package transport

import (
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var errWrong = errors.New("wrong password")

func testGuard(lim Limits) *authGuard {
	return newAuthGuard(lim.withDefaults(), slog.New(slog.DiscardHandler))
}

// try runs one attempt and reports whether the check ran and its error.
func try(g *authGuard, user string, src netip.Prefix, ok bool) (bool, error) {
	ran := false
	err := g.check(user, src, func() error {
		ran = true
		if !ok {
			return errWrong
		}
		return nil
	})
	return ran, err
}

var (
	srcA = netip.MustParsePrefix("192.0.2.1/32")
	srcB = netip.MustParsePrefix("192.0.2.2/32")
	srcC = netip.MustParsePrefix("192.0.2.3/32")
)

// TestAuthDelaysDouble checks the per-source penalty: free failures, then
// a delay that doubles up to the maximum, during which attempts (even
// right ones) are refused without a check; forgotten after AuthForget.
func TestAuthDelaysDouble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := testGuard(Limits{AuthFreeFailures: 2, AuthFailureDelay: time.Second, AuthMaxDelay: 4 * time.Second,
			AuthForget: time.Hour})
		for i := range 2 {
			if ran, _ := try(g, "u"+string(rune('a'+i)), srcA, false); !ran {
				t.Fatalf("free failure %d not checked", i+1)
			}
		}
		for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			if ran, _ := try(g, "x", srcA, false); !ran {
				t.Fatal("attempt after the delay not checked")
			}
			time.Sleep(want - time.Millisecond)
			if ran, err := try(g, "x", srcA, true); ran || !errors.Is(err, errThrottled) {
				t.Fatalf("attempt within the %v delay: checked %v, err %v", want, ran, err)
			}
			time.Sleep(time.Millisecond)
		}
		if ran, err := try(g, "x", srcB, true); !ran || err != nil {
			t.Fatalf("another source: checked %v, err %v", ran, err)
		}
		if st := g.snapshot(); st.Failed != 6 || st.Throttled != 4 {
			t.Errorf("stats %+v", st)
		}
		time.Sleep(time.Hour + time.Second)
		if ran, err := try(g, "x", srcA, true); !ran || err != nil {
			t.Fatalf("after AuthForget: checked %v, err %v", ran, err)
		}
	})
}

// TestAuthUserDelaySparesCleanSources attacks one user name from several
// sources: failing sources are refused for it, a clean one is not.
func TestAuthUserDelaySparesCleanSources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := testGuard(Limits{AuthFreeFailures: 3, AuthFailureDelay: time.Minute})
		try(g, "admin", srcA, false)
		try(g, "admin", srcA, false)
		try(g, "admin", srcB, false)
		try(g, "admin", srcB, false) // admin: 4 failures, delayed; A and B: 2 each
		if ran, err := try(g, "admin", srcB, true); ran || !errors.Is(err, errThrottled) {
			t.Fatalf("failing source on a delayed user: checked %v, err %v", ran, err)
		}
		if ran, err := try(g, "other", srcB, true); !ran || err != nil {
			t.Fatalf("failing source, another user: checked %v, err %v", ran, err)
		}
		if ran, err := try(g, "admin", srcC, true); !ran || err != nil {
			t.Fatalf("clean source on a delayed user: checked %v, err %v", ran, err)
		}
	})
}

// TestAuthConcurrency bounds the checks running at once, keeps one slot
// for clean sources, and refuses an attempt that waits too long.
func TestAuthConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := testGuard(Limits{MaxConcurrentAuth: 2, AuthFreeFailures: 100, AuthQueueTimeout: 3 * time.Second})
		try(g, "x", srcA, false) // srcA is now suspect
		release := make(chan struct{})
		var mu sync.Mutex
		running, peak := 0, 0
		slow := func() error {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			<-release
			mu.Lock()
			running--
			mu.Unlock()
			return errWrong
		}
		results := make(chan error, 3)
		for range 3 {
			go func() { results <- g.check("x", srcA, slow) }()
		}
		synctest.Wait()
		if peak != 1 {
			t.Fatalf("%d checks of a failing source run at once, want 1", peak)
		}
		// A clean source gets the kept slot at once.
		if ran, err := try(g, "y", srcB, true); !ran || err != nil {
			t.Fatalf("clean source while a failing one holds a slot: checked %v, err %v", ran, err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		close(release)
		busy := 0
		for range 3 {
			if errors.Is(<-results, errAuthBusy) {
				busy++
			}
		}
		if busy != 2 {
			t.Errorf("%d attempts refused as busy, want the 2 that waited 3 s", busy)
		}
		if st := g.snapshot(); st.Busy != 2 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestAuthBurstOfOneSourceIsSuspect checks that a source's attempts
// beyond its first in progress are treated as failing ones, before any
// has failed: the burst of a guesser's first attempts takes one slot, and
// another source still finds one free.
func TestAuthBurstOfOneSourceIsSuspect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := testGuard(Limits{MaxConcurrentAuth: 2})
		release := make(chan struct{})
		var mu sync.Mutex
		running, peak := 0, 0
		slow := func() error {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			<-release
			mu.Lock()
			running--
			mu.Unlock()
			return errWrong
		}
		done := make(chan error, 8)
		for range 8 {
			go func() { done <- g.check("admin", srcA, slow) }()
		}
		synctest.Wait()
		if peak != 2 {
			t.Fatalf("%d checks of one source's burst run at once, want 2 (its first, and one suspect)", peak)
		}
		close(release)
		for range 8 {
			<-done
		}
	})
}
