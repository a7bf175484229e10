package engine

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"secgw/internal/ike/config"
)

// TestTimerHeapOrder: the worker heap always yields the SA with the
// earliest wake, through random inserts, moves (earlier and later) and
// removals, and keeps every SA's index in step with its position.
func TestTimerHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	sas := make([]*ikeSA, 500)
	for i := range sas {
		sas[i] = &ikeSA{hidx: -1}
	}
	check := func() {
		for i, x := range h {
			if int(x.sa.hidx) != i {
				t.Fatalf("SA at %d has index %d", i, x.sa.hidx)
			}
			if i > 0 && h[(i-1)/heapArity].wake > x.wake {
				t.Fatalf("heap order broken at %d", i)
			}
		}
	}
	for range 20000 {
		sa := sas[rng.IntN(len(sas))]
		switch rng.IntN(3) {
		case 0, 1:
			h.set(sa, 1+rng.Int64N(1e6))
		case 2:
			h.remove(sa)
			if sa.hidx != -1 {
				t.Fatal("removed SA keeps its heap position")
			}
		}
		check()
	}
	var got []int64
	for h.head() != nil {
		got = append(got, h[0].wake)
		h.remove(h.head())
	}
	if !slices.IsSorted(got) {
		t.Fatal("heap does not drain in wake order")
	}
}

// TestSATableShape: sa-table-size and sa-table-segments are rounded up
// to powers of two, segments never exceed buckets, and the 32-bit
// extremes are capped.
func TestSATableShape(t *testing.T) {
	for _, c := range []struct{ size, segs, wantSize, wantSegs int }{
		{1, 1, 1, 1}, {0, 0, 1, 1}, {128, 16, 128, 16}, {100, 10, 128, 16}, {4, 64, 4, 4},
		{1 << 31, 1 << 31, maxTableSize, maxTableSegments}, {16384, 64, 16384, 64},
	} {
		size, segs := newSATable(c.size, c.segs, nil).shape()
		if size != c.wantSize || segs != c.wantSegs {
			t.Errorf("size %d segments %d: got %d/%d, want %d/%d", c.size, c.segs, size, segs, c.wantSize, c.wantSegs)
		}
	}
}

// TestSATableOps: insert, lookup, removal and reservation, with one
// bucket (every SA in one chain, the default) and with many; SAs spread
// over every bucket of a large table.
func TestSATableOps(t *testing.T) {
	for _, shape := range [][2]int{{1, 1}, {64, 8}} {
		e := New(Options{})
		tab := newSATable(shape[0], shape[1], e.log)
		var sas []*ikeSA
		for range 1000 {
			sa := &ikeSA{}
			tab.insertNew(sa, e.o.Rand)
			sas = append(sas, sa)
		}
		if tab.len() != 1000 {
			t.Fatalf("%v: %d SAs in the table", shape, tab.len())
		}
		used := map[uint64]bool{}
		for _, sa := range sas {
			if tab.get(sa.id) != sa {
				t.Fatalf("%v: SA %x not found", shape, sa.id)
			}
			used[tab.bucket(sa.id)] = true
		}
		if len(used) != shape[0] {
			t.Errorf("%v: SAs in %d of %d buckets", shape, len(used), shape[0])
		}
		spi := tab.reserve(e.o.Rand)
		if tab.insert(&ikeSA{}, spi) {
			t.Fatal("a reserved SPI was given to another SA")
		}
		owner := &ikeSA{id: spi}
		if !tab.insert(owner, spi) || tab.get(spi) != owner {
			t.Fatal("the SA of the reservation did not get its SPI")
		}
		if tab.insert(&ikeSA{}, sas[0].id) {
			t.Fatal("an SPI in use was given again")
		}
		for _, sa := range sas[:500] {
			tab.remove(sa)
			tab.remove(sa) // idempotent
		}
		if tab.len() != 501 || tab.get(sas[0].id) != nil || tab.get(sas[999].id) != sas[999] {
			t.Fatalf("%v: after removals %d SAs", shape, tab.len())
		}
	}
}

// TestSATableConcurrent: lookups, inserts and removals from several
// goroutines on a segmented table (run with -race).
func TestSATableConcurrent(t *testing.T) {
	e := New(Options{})
	tab := newSATable(256, 16, e.log)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []*ikeSA
			for i := range 2000 {
				sa := &ikeSA{}
				tab.insertNew(sa, e.o.Rand)
				mine = append(mine, sa)
				if tab.get(sa.id) != sa {
					t.Errorf("goroutine %d: SA lost", g)
					return
				}
				if i%3 == 0 {
					tab.remove(mine[0])
					mine = mine[1:]
				}
			}
		}()
	}
	wg.Wait()
}

// TestPeerWorker: a peer address always hashes to the same worker, IPv4
// and its IPv4-mapped IPv6 form alike, and many peers spread over every
// worker.
func TestPeerWorker(t *testing.T) {
	e := New(Options{Config: &config.Config{Global: config.Global{Threads: 8}}})
	seen := map[*worker]int{}
	for i := range 2000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		w := e.workerFor(a)
		if w != e.workerFor(a) || w != e.workerFor(netip.AddrFrom16(a.As16())) {
			t.Fatalf("peer %v moves between workers", a)
		}
		seen[w]++
	}
	if len(seen) != 8 {
		t.Fatalf("2000 peers on %d of 8 workers", len(seen))
	}
	for w, n := range seen {
		if n < 150 {
			t.Errorf("worker %d has %d of 2000 peers", w.id, n)
		}
	}
}

// BenchmarkTimerHeapDPD is a DPD round on 100k IKE SAs of one worker:
// the head's timer fires and is armed again dpd-delay later. Each
// operation is O(log n) in the worker's SAs, with no runtime timer per SA.
func BenchmarkTimerHeapDPD(b *testing.B) {
	const n, delay = 100_000, int64(30e9)
	var h timerHeap
	rng := rand.New(rand.NewPCG(3, 4))
	for range n {
		h.set(&ikeSA{hidx: -1}, 1+rng.Int64N(delay))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sa := h.head()
		wake := h[0].wake
		h.remove(sa)
		h.set(sa, wake+delay)
	}
}
