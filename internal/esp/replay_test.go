package esp

import (
	"errors"
	"testing"
)

// TestWindow drives windows of several sizes with in-order, reordered,
// old and duplicate numbers (RFC 4303 §3.4.3).
func TestWindow(t *testing.T) {
	for _, size := range []uint32{1, 32, 64, 65, 1000, 4096} {
		w := NewWindow(size)
		accept := func(seq uint64) {
			t.Helper()
			if err := w.Check(seq); err != nil {
				t.Fatalf("W=%d: Check(%d) = %v with top %d", size, seq, err, w.Top())
			}
			if err := w.Update(seq); err != nil {
				t.Fatalf("W=%d: Update(%d) = %v", size, seq, err)
			}
		}
		refuse := func(seq uint64, want error) {
			t.Helper()
			if err := w.Check(seq); err != want {
				t.Fatalf("W=%d: Check(%d) = %v with top %d, want %v", size, seq, err, w.Top(), want)
			}
			if err := w.Update(seq); err != want {
				t.Fatalf("W=%d: Update(%d) = %v, want %v", size, seq, err, want)
			}
		}
		refuse(0, ErrTooOld) // never sent
		// In order.
		for s := uint64(1); s <= 100; s++ {
			accept(s)
		}
		refuse(100, ErrReplay)
		// Reordered: a gap, then the gap filled backwards.
		accept(110)
		for s := uint64(109); s > 100 && 110-s < uint64(size); s-- {
			accept(s)
		}
		for s := uint64(101); s <= 110; s++ {
			if 110-s < uint64(size) {
				refuse(s, ErrReplay)
			} else {
				refuse(s, ErrTooOld)
			}
		}
		// Old: exactly at the left edge (top-W) and beyond.
		top := uint64(10000)
		accept(top)
		refuse(top-uint64(size), ErrTooOld)
		if size > 1 {
			accept(top - uint64(size) + 1) // the oldest number inside
			refuse(top-uint64(size)+1, ErrReplay)
		}
		// A jump of more than the bitmap clears it: numbers inside the
		// new window that were set in the old ring are not "replays".
		accept(top + 3*MaxWindow)
		if size > 1 {
			accept(top + 3*MaxWindow - 1)
		}
		// Every number of the window once: the ring does not leak bits
		// from one lap to the next.
		base := uint64(1 << 20)
		for s := base; s < base+5*uint64(size)+200; s++ {
			accept(s)
			if s-base > uint64(size) {
				refuse(s-uint64(size), ErrTooOld)
			}
		}
	}
}

// TestWindowOff: with size 0 nothing is refused but 0, and the top is
// still tracked for ESN.
func TestWindowOff(t *testing.T) {
	w := NewWindow(0)
	for _, s := range []uint64{5, 5, 3, 1 << 40, 7} {
		if err := w.Update(s); err != nil {
			t.Fatalf("Update(%d): %v", s, err)
		}
	}
	if w.Top() != 1<<40 || w.Check(0) != ErrTooOld {
		t.Errorf("top %d", w.Top())
	}
	if NewWindow(1<<20).Size() != MaxWindow {
		t.Error("window not clamped to MaxWindow")
	}
}

// TestEstimateSeq checks the two cases of RFC 4303 Appendix A2.2.
func TestEstimateSeq(t *testing.T) {
	const W = 64
	for _, c := range []struct {
		top  uint64
		low  uint32
		want uint64
	}{
		// Case A (Tl >= W-1): inside the window or ahead, same Th...
		{0x5_00001000, 0x00001000 - 63, 0x5_00001000 - 63},
		{0x5_00001000, 0x00002000, 0x5_00002000},
		{0x5_ffffffff, 0xffffffc1, 0x5_ffffffc1},
		// ...and a low half left of the window is the next subspace.
		{0x5_00001000, 0x00001000 - 64, 0x6_00001000 - 64},
		{0x5_ffffff00, 0x00000003, 0x6_00000003},
		// Case B (Tl < W-1): the window reaches into the previous
		// subspace; a high low half is from there.
		{0x6_00000010, 0xfffffff0, 0x5_fffffff0},
		{0x6_00000010, 0x00000008, 0x6_00000008},
		{0x6_00000010, 0x00001000, 0x6_00001000},
		{0x6_00000010, 0xffffffd1, 0x5_ffffffd1}, // Tl-W+1 exactly
		{0x6_00000010, 0xffffffd0, 0x6_ffffffd0}, // one left of it: far ahead
		// Th = 0 has no previous subspace.
		{0x0_00000010, 0xfffffff0, 0x0_fffffff0},
		{0, 1, 1},
	} {
		if got := EstimateSeq(c.top, W, c.low); got != c.want {
			t.Errorf("EstimateSeq(%#x, %d, %#x) = %#x, want %#x", c.top, W, c.low, got, c.want)
		}
	}
	// Without a window, the candidate nearest to T.
	if got := EstimateSeq(0x3_fffffff0, 0, 2); got != 0x4_00000002 {
		t.Errorf("no window, ahead across the boundary: %#x", got)
	}
	if got := EstimateSeq(0x4_00000002, 0, 0xfffffff0); got != 0x3_fffffff0 {
		t.Errorf("no window, behind across the boundary: %#x", got)
	}
}

// TestOpenReplay: the window of an Inbound refuses duplicates and old
// packets, and a packet whose ICV fails does not move it.
func TestOpenReplay(t *testing.T) {
	o, in := suites[0].pair(t, false, 32)
	var pkts [][]byte
	for range 100 {
		pkts = append(pkts, seal(t, o, []byte{0x45}, NextIPv4))
	}
	for _, i := range []int{0, 2, 1, 50, 49, 19} {
		if _, _, _, err := open(in, pkts[i]); err != nil {
			t.Fatalf("packet %d: %v", i+1, err)
		}
	}
	for i, want := range map[int]error{0: ErrTooOld, 2: ErrTooOld, 18: ErrTooOld, 19: ErrReplay, 49: ErrReplay, 50: ErrReplay} {
		if _, _, _, err := open(in, pkts[i]); !errors.Is(err, want) {
			t.Errorf("packet %d again: %v, want %v", i+1, err, want)
		}
	}
	bad := append([]byte(nil), pkts[99]...)
	bad[20] ^= 1
	if _, _, _, err := open(in, bad); err != ErrAuth {
		t.Fatalf("tampered: %v", err)
	}
	if in.Top() != 51 {
		t.Errorf("top %d after a tampered packet 100, want 51", in.Top())
	}
	if _, _, _, err := open(in, pkts[99]); err != nil {
		t.Errorf("genuine packet 100 after a tampered copy: %v", err)
	}
}
