package engine

import (
	"math"
	"time"
)

// RetransmitDelay returns how long the engine waits for a response to try
// number try (0 for the first transmission, up to tries retransmissions)
// before retransmitting or, after the last, giving up (RFC 7296 §2.4; the
// vsr guide, "Retransmission constants"):
//
//	timeout-with-limit(try) = min(limit, timeout × base^try)
//	timeout(try)            = timeout-with-limit(try) × (1 - random(0, jitter) / 100)
//
// limit 0 disables the cap and jitterPct 0 the jitter. rnd returns a number
// in [0, 1), e.g. math/rand/v2.Float64; it is not called without jitter.
// Like strongSwan, the value is computed in whole milliseconds (truncated).
// A try outside 0..tries yields 0: the caller has given up.
func RetransmitDelay(try, tries int, timeout time.Duration, base float64, jitterPct int, limit time.Duration, rnd func() float64) time.Duration {
	if try < 0 || try > tries {
		return 0
	}
	ms := math.Floor(float64(timeout.Milliseconds()) * math.Pow(base, float64(try)))
	if l := float64(limit.Milliseconds()); limit > 0 && ms > l {
		ms = l
	}
	if jitterPct > 0 && rnd != nil {
		ms -= math.Floor(ms * float64(jitterPct) / 100 * rnd())
	}
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// RetransmitTotal returns the time after which an unanswered request is
// abandoned without jitter: the sum of the delays of tries 0..tries (the
// "Total timeout" column of the vsr tables; 165 s with the defaults). With
// jitter the actual total lies between (1 - jitter/100) times this and this.
func RetransmitTotal(tries int, timeout time.Duration, base float64, limit time.Duration) time.Duration {
	var total time.Duration
	for try := 0; try <= tries; try++ {
		total += RetransmitDelay(try, tries, timeout, base, 0, limit, nil)
	}
	return total
}
