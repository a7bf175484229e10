package engine

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/ike/config"
)

// TestPaceRestarts: the re-initiations of dpd-action restart and
// close-action start go through the pacer from a worker whose lock is
// held (a storm of peers restarting at once): the first runs at once on
// the caller's worker, the others at initiate-rate, each under the lock
// of its peer's worker, and a rate set to 0 meanwhile lets the rest go
// at the next turn.
func TestPaceRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &config.Config{Global: config.Global{InitiateRate: 100, Threads: 4, SATableSize: 1, SATableSegments: 1}}
		e := New(Options{Config: c, LocalAddr: netip.MustParseAddr("192.0.2.1")})
		var ran atomic.Int64
		peer := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
		cur := e.lockPeer(peer(0))
		for i := range 1000 {
			e.pace(cur, peer(i), func(w *worker) {
				if w != e.workerFor(peer(i)) {
					t.Errorf("peer %d paced on another worker", i)
				}
				ran.Add(1)
			})
		}
		cur.unlock()
		synctest.Wait()
		if n := ran.Load(); n != 1 {
			t.Fatalf("%d restarts at once, want 1", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := ran.Load(); n != 101 {
			t.Fatalf("%d restarts after 1 s at 100/s, want 101", n)
		}
		g := c.Global
		g.InitiateRate = 0
		e.SetConfig(&config.Config{Global: g})
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		if n := ran.Load(); n != 1000 {
			t.Fatalf("%d restarts once unpaced, want 1000", n)
		}
	})
}
