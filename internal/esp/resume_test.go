package esp

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// TestWindowResume: a window resumed at T (an HA takeover) refuses every
// number at or below T as a replay or as too old, and accepts the numbers
// above T, also out of order within T's 64-bit block after the window
// slid (the bits above T must not be marked seen).
func TestWindowResume(t *testing.T) {
	for _, size := range []uint32{1, 32, 64, 65, 1000, 4096} {
		for _, top := range []uint64{1, 2, 63, 64, 100, 1 << 20, math.MaxUint32 - 1, math.MaxUint32, 1<<32 + 5} {
			name := fmt.Sprintf("W=%d T=%#x", size, top)
			w := NewWindow(size)
			w.Update(top + 9000) // earlier state is forgotten
			w.Resume(top)
			if w.Top() != top {
				t.Fatalf("%s: Top %#x", name, w.Top())
			}
			for d := uint64(0); d < uint64(size) && d < top; d++ {
				if err := w.Check(top - d); !errors.Is(err, ErrReplay) {
					t.Fatalf("%s: Check(T-%d) = %v, want a replay", name, d, err)
				}
			}
			if top > uint64(size) {
				if err := w.Check(top - uint64(size)); !errors.Is(err, ErrTooOld) {
					t.Fatalf("%s: Check(T-W) = %v, want too old", name, err)
				}
			}
			// Above T: T+5 first, then T+4 .. T+1 behind it.
			order := []uint64{5, 4, 3, 2, 1}
			for _, d := range order {
				err := w.Update(top + d)
				if 5-d < uint64(size) && err != nil {
					t.Fatalf("%s: Update(T+%d) = %v, want accepted", name, d, err)
				}
				if 5-d >= uint64(size) && !errors.Is(err, ErrTooOld) {
					t.Fatalf("%s: Update(T+%d) = %v, want too old", name, d, err)
				}
			}
			if err := w.Check(top + 5); !errors.Is(err, ErrReplay) {
				t.Fatalf("%s: T+5 again: %v", name, err)
			}
		}
	}
	// Resume(0) and a window of 0 are a new window.
	w := NewWindow(64)
	w.Update(10)
	w.Resume(0)
	if err := w.Update(10); err != nil {
		t.Errorf("after Resume(0): %v", err)
	}
	off := NewWindow(0)
	off.Resume(100)
	if off.Top() != 100 || off.Check(50) != nil {
		t.Errorf("window off: Top %d, Check(50) %v", off.Top(), off.Check(50))
	}
}

// TestResumeSA: an outbound SA created with Seq = N-3 (the takeover's
// shifted number) sends N-2, N-1, ...; an inbound SA created with ISeq =
// N drops as replays those at or below N and accepts N+1 and above with
// their full numbers, with and without ESN, at the 32-bit boundary too
// (RFC 4303 §2.2.1, Appendix A2: the high half comes from the window).
func TestResumeSA(t *testing.T) {
	for _, s := range []testSuite{suites[0], suites[4], suites[8]} {
		for _, c := range []struct {
			esn bool
			n   uint64
		}{
			{false, 1 << 20}, {false, math.MaxUint32 - 1},
			{true, 1 << 20}, {true, 1<<32 + 1}, {true, 1 << 32}, {true, 5<<32 + 7},
		} {
			name := fmt.Sprintf("%s esn=%v N=%#x", s.name, c.esn, c.n)
			oc := s.config(7, c.esn, 64)
			oc.Seq = c.n - 3
			o, err := NewOutbound(oc)
			if err != nil {
				t.Fatal(err)
			}
			ic := s.config(7, c.esn, 64)
			ic.ISeq = c.n
			in, err := NewInbound(ic)
			if err != nil {
				t.Fatal(err)
			}
			if in.Top() != c.n {
				t.Fatalf("%s: inbound Top %#x", name, in.Top())
			}
			for i := uint64(1); i <= 4; i++ {
				want := c.n - 3 + i
				if !c.esn && want > math.MaxUint32 {
					b := make([]byte, 256)
					if _, err := o.Seal(b, Scratch+16, 10, NextIPv4); err != ErrSeqOverflow {
						t.Fatalf("%s: Seal past 2^32-1: %v", name, err)
					}
					continue
				}
				pkt := seal(t, o, []byte{byte(i)}, NextIPv4)
				if got := uint64(pkt[4])<<24 | uint64(pkt[5])<<16 | uint64(pkt[6])<<8 | uint64(pkt[7]); got != want&math.MaxUint32 {
					t.Fatalf("%s: packet %d carries %#x, want low half of %#x", name, i, got, want)
				}
				if o.Seq() != want {
					t.Fatalf("%s: Seq() %#x, want %#x", name, o.Seq(), want)
				}
				_, _, seq, err := open(in, pkt)
				switch {
				case want <= c.n && !errors.Is(err, ErrReplay):
					t.Fatalf("%s: seq %#x at or below ISeq: %v, want a replay", name, want, err)
				case want > c.n && (err != nil || seq != want):
					t.Fatalf("%s: seq %#x above ISeq: got %#x, %v", name, want, seq, err)
				}
			}
		}
	}
}
