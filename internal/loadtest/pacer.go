package loadtest

import (
	"context"
	"time"
)

// Pacer spaces operations at a target rate, like a token bucket of depth
// Burst: after an idle period at most Burst operations start at once,
// then one every 1/rate. A zero rate means no limit. A Pacer is not safe
// for concurrent use; the generator owns one per stream of starts.
type Pacer struct {
	interval time.Duration
	burst    int
	next     time.Time
}

// NewPacer returns a Pacer for rate operations per second (0: unlimited)
// with the given burst (at least 1).
func NewPacer(rate float64, burst int) *Pacer {
	p := &Pacer{burst: max(burst, 1)}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
		if p.interval <= 0 {
			p.interval = 1
		}
	}
	return p
}

// Reserve books the next operation and returns when it may start: now or
// later. The schedule keeps the average rate exact: an operation that
// starts late does not push the following ones back, up to Burst of them.
func (p *Pacer) Reserve(now time.Time) time.Time {
	if p.interval == 0 {
		return now
	}
	// Credit for idle time is capped at burst operations.
	if earliest := now.Add(-time.Duration(p.burst-1) * p.interval); p.next.Before(earliest) {
		p.next = earliest
	}
	at := p.next
	p.next = p.next.Add(p.interval)
	if at.Before(now) {
		return now
	}
	return at
}

// minSleep is the shortest wait worth a timer: at high rates operations
// start in small bursts instead, and the average rate stays exact because
// the schedule is absolute.
const minSleep = 200 * time.Microsecond

// Wait blocks until the next operation may start, or ctx is done.
func (p *Pacer) Wait(ctx context.Context) error {
	at := p.Reserve(time.Now())
	d := time.Until(at)
	if d < minSleep {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
