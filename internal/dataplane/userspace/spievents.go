package userspace

import "sync/atomic"

// maxSPIEventsPerSecond bounds the unknown-SPI events the dataplane
// sends the engine: each costs the engine a look-up of the peer's IKE
// SAs, and a flood of ESP with random SPIs (or from spoofed sources)
// must not turn into as many. The engine's own per-peer limit
// (respond-bad-spi max-responses) is far below this, so a peer that
// really lost its SAs is still answered. The events are also only sent
// while the event channel is at most half full, which keeps room for
// the expiries.
const maxSPIEventsPerSecond = 64

// spiEventLimit counts the unknown-SPI events of the current second,
// lock-free (the inbound workers call it concurrently).
type spiEventLimit struct {
	sec, n atomic.Int64
}

// allow reports whether one more event may go out in second now (Unix
// seconds). Two workers crossing into a new second may both reset the
// count: the bound is then briefly twice as large, which is harmless.
func (l *spiEventLimit) allow(now int64) bool {
	if l.sec.Load() != now {
		l.sec.Store(now)
		l.n.Store(0)
	}
	return l.n.Add(1) <= maxSPIEventsPerSecond
}
