package esp

// MaxWindow is the largest anti-replay window supported, in packets.
const MaxWindow = 4096

// Window is an anti-replay window (RFC 4303 §3.4.3) kept as the bitmap
// of RFC 6479: a ring of 64-bit blocks, one bit per sequence number, in
// which advancing the right edge clears whole blocks instead of shifting
// bits. With a window of W packets it accepts a sequence number s when
// s > T (the highest accepted) or T-W < s <= T and s was not seen.
//
// Sequence numbers are the full 64-bit values (with ESN the high half is
// reconstructed first, see EstimateSeq). A Window is not safe for
// concurrent use; Inbound guards it.
type Window struct {
	size   uint64   // W, in packets; 0 disables replay checking
	top    uint64   // T: the highest accepted sequence number, 0 before the first
	blocks []uint64 // power-of-two ring covering at least W+64 numbers
}

// NewWindow returns a window of size packets (0 disables the check but
// still tracks the highest sequence number for ESN); sizes above
// MaxWindow are clamped.
func NewWindow(size uint32) *Window {
	if size > MaxWindow {
		size = MaxWindow
	}
	w := &Window{size: uint64(size)}
	if size > 0 {
		// RFC 6479 §2: one block more than the window needs, so the
		// block being cleared never holds a bit still inside the window.
		n := 1
		for n < int(size+63)/64+1 {
			n <<= 1
		}
		w.blocks = make([]uint64, n)
	}
	return w
}

// Resume sets the window as if top were the highest sequence number
// accepted and every number at or below it had been seen: a standby
// taking an SA over (HA) continues from the old active's synced state and
// must not accept again what that node may already have accepted. Numbers
// above top are accepted; the next one slides the window as usual. Only
// on a new window (it forgets what was recorded).
func (w *Window) Resume(top uint64) {
	w.top = top
	if w.size == 0 || top == 0 {
		clear(w.blocks)
		return
	}
	// Every block but top's holds numbers below top's block (the ring
	// covers at least W+64 numbers ending in it); in top's block only the
	// bits up to top are seen, those above must stay free for the packets
	// that arrive out of order after the window slides within the block.
	for i := range w.blocks {
		w.blocks[i] = ^uint64(0)
	}
	w.blocks[w.blockOf(top)] = ^uint64(0) >> (63 - top&63)
}

// Size returns W.
func (w *Window) Size() uint32 { return uint32(w.size) }

// Top returns T, the highest sequence number accepted so far.
func (w *Window) Top() uint64 { return w.top }

// Check tells whether seq may be accepted, without changing the window.
// RFC 4303 §3.4.3: the check is made before the ICV and the window is
// updated only after the ICV verifies (Update). Sequence number 0 is
// never sent (RFC 4303 §3.3.3: the first packet carries 1).
func (w *Window) Check(seq uint64) error {
	if seq == 0 {
		return ErrTooOld
	}
	if w.size == 0 || seq > w.top {
		return nil
	}
	if w.top-seq >= w.size {
		return ErrTooOld
	}
	if w.blocks[w.blockOf(seq)]&(1<<(seq&63)) != 0 {
		return ErrReplay
	}
	return nil
}

func (w *Window) blockOf(seq uint64) uint64 { return (seq >> 6) & uint64(len(w.blocks)-1) }

// Update records seq as received, sliding the window when it is the new
// highest. It re-checks (another goroutine may have accepted seq between
// Check and Update) and returns the same errors as Check.
func (w *Window) Update(seq uint64) error {
	if err := w.Check(seq); err != nil {
		return err
	}
	if w.size == 0 {
		if seq > w.top {
			w.top = seq
		}
		return nil
	}
	if seq > w.top {
		// Clear the blocks between the old top's and the new top's
		// (RFC 6479 §2); a jump of more than the ring clears it all.
		cur, next := w.top>>6, seq>>6
		if next-cur >= uint64(len(w.blocks)) {
			clear(w.blocks)
		} else {
			for b := cur + 1; b <= next; b++ {
				w.blocks[b&uint64(len(w.blocks)-1)] = 0
			}
		}
		w.top = seq
	}
	w.blocks[w.blockOf(seq)] |= 1 << (seq & 63)
	return nil
}

// EstimateSeq reconstructs the full 64-bit sequence number of a packet
// carrying the low-order 32 bits seqLow, given the highest accepted
// number top and the window size w (RFC 4303 Appendix A2.2). The guess is
// authenticated by the ICV, which covers the high-order bits (§2.2.1).
func EstimateSeq(top uint64, w uint32, seqLow uint32) uint64 {
	if w == 0 {
		// Without a window (replay checking off), take the candidate
		// closest to T: a window of half the 32-bit space.
		w = 1 << 31
	}
	tl, th := uint32(top), uint32(top>>32)
	seqh := th
	if tl >= w-1 {
		// Case A: the window lies within one subspace.
		if seqLow < tl-w+1 {
			seqh = th + 1
		}
	} else if seqLow >= tl-w+1 && th > 0 {
		// Case B: the window spans two subspaces; a number in the upper
		// part of the range belongs to the previous one. (With Th = 0
		// there is no previous subspace and the packet is ahead.)
		seqh = th - 1
	}
	return uint64(seqh)<<32 | uint64(seqLow)
}
