package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/xfrm"
)

// TestBadSPIWatch: the kernel dataplane's unknown-SPI watch samples only
// while respond-bad-spi is configured and only in a period in which
// XfrmInNoStates grew (the first period after enabling just reads it),
// and hands what the sample found to the engine.
func TestBadSPIWatch(t *testing.T) {
	var enabled bool
	var count uint64
	var samples, reads int
	var reported []dataplane.Event
	ev := dataplane.Event{Kind: dataplane.UnknownSPI, SA: dataplane.SAKey{Dst: netip.MustParseAddr("192.0.2.1"), SPI: 0xbad},
		Src: netip.MustParseAddr("192.0.2.2")}
	w := &badSPIWatch{
		enabled: func() bool { return enabled },
		stats: func() (xfrm.Stats, error) {
			reads++
			return xfrm.Stats{"XfrmInNoStates": count, "XfrmInError": 7}, nil
		},
		sample: func(_ context.Context, window time.Duration, max int) ([]dataplane.Event, error) {
			samples++
			if window != badSPIWindow || max != badSPIMax {
				t.Errorf("sample %v %d", window, max)
			}
			return []dataplane.Event{ev}, nil
		},
		report: func(e dataplane.Event) error { reported = append(reported, e); return nil },
		log:    slog.New(slog.DiscardHandler),
	}
	ctx := context.Background()
	step := func(what string, wantSamples, wantReads int) {
		t.Helper()
		w.tick(ctx)
		if samples != wantSamples || reads != wantReads {
			t.Fatalf("%s: %d samples %d reads, want %d and %d", what, samples, reads, wantSamples, wantReads)
		}
	}
	count = 5
	step("disabled", 0, 0)
	enabled = true
	step("first period: primes", 0, 1)
	step("no growth", 0, 2)
	count = 9
	step("grew", 1, 3)
	step("grew no more", 1, 4)
	enabled = false
	count = 20
	step("disabled again", 1, 4)
	enabled = true
	step("re-enabled: primes, does not count what grew while off", 1, 5)
	if len(reported) != 1 || reported[0] != ev {
		t.Fatalf("reported %+v", reported)
	}
}
