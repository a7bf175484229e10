package engine

import (
	"math"
	"testing"
	"time"
)

// The three tables of the vsr guide, "Retransmission constants": relative
// timeouts in seconds, rounded as the guide prints them.
func TestRetransmitDelayTables(t *testing.T) {
	const timeout, base, tries = 4 * time.Second, 1.8, 5
	def := []float64{4, 7, 13, 23, 42, 76} // default
	lim := []float64{4, 7, 13, 23, 40, 40} // retransmit-limit 40
	for try := 0; try <= tries; try++ {
		if d := RetransmitDelay(try, tries, timeout, base, 0, 0, nil); math.Round(d.Seconds()) != def[try] {
			t.Errorf("default try %d: %v, want %vs", try, d, def[try])
		}
		if d := RetransmitDelay(try, tries, timeout, base, 0, 40*time.Second, nil); math.Round(d.Seconds()) != lim[try] {
			t.Errorf("limit 40 try %d: %v, want %vs", try, d, lim[try])
		}
		// Jitter 20: the range is [0.8 x, x] of the limited value; the
		// extremes of rnd reach both ends (3.2s-4s, 5.6s-7s, ... 32s-40s).
		hi := RetransmitDelay(try, tries, timeout, base, 20, 40*time.Second, func() float64 { return 0 })
		lo := RetransmitDelay(try, tries, timeout, base, 20, 40*time.Second, func() float64 { return 0.999999 })
		if math.Round(hi.Seconds()) != lim[try] || math.Abs(lo.Seconds()-0.8*hi.Seconds()) > 0.002 {
			t.Errorf("jitter 20 try %d: range %v-%v", try, lo, hi)
		}
	}
	if got := RetransmitTotal(tries, timeout, base, 0); math.Round(got.Seconds()) != 165 {
		t.Errorf("total %v, want 165s", got)
	}
	if got := RetransmitTotal(tries, timeout, base, 40*time.Second); math.Round(got.Seconds()) != 127 {
		t.Errorf("total with limit %v, want 127s", got)
	}
	if RetransmitDelay(6, tries, timeout, base, 0, 0, nil) != 0 || RetransmitDelay(-1, tries, timeout, base, 0, 0, nil) != 0 {
		t.Error("try outside 0..tries must yield 0")
	}
}
