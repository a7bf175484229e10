package engine

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets is the number of bounded buckets of a Latency.
const LatencyBuckets = len(latencyBounds)

// LatencyBounds returns the upper bounds of the buckets of a worker's
// latency histograms (WorkerStat.Wait, WorkerStat.Handling), 10 µs to
// 1 s in 1-2.5-5 steps: a datagram of an established IKE SA is handled
// in tens of microseconds, an IKE_AUTH with a signature in milliseconds,
// and a queue behind a flood waits up to seconds. Longer ones fall in
// the last, unbounded bucket.
func LatencyBounds() [LatencyBuckets]time.Duration { return latencyBounds }

// latencyBounds is LatencyBounds' table, read only.
var latencyBounds = [...]time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second,
}

// Latency is a histogram of durations over LatencyBounds.
type Latency struct {
	// Counts[i] counts the durations d with LatencyBounds()[i-1] < d <=
	// LatencyBounds()[i] (not cumulative); the last one those above the
	// last bound.
	Counts [LatencyBuckets + 1]uint64
	// Sum is the total of the durations.
	Sum time.Duration
}

// Count is the number of durations observed.
func (l Latency) Count() uint64 {
	var n uint64
	for _, c := range l.Counts {
		n += c
	}
	return n
}

// latencyHist is a Latency that a worker records into while scrapes read
// it: one atomic add per bucket and one for the sum, no lock and no
// allocation on the worker's path. A reader may see a count without its
// sum, or the reverse: one job apart, which a scrape tolerates.
type latencyHist struct {
	counts [LatencyBuckets + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

// observe records d (a negative d, a clock step, as 0).
func (h *latencyHist) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < LatencyBuckets && d > latencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

// snapshot reads the histogram.
func (h *latencyHist) snapshot() Latency {
	var l Latency
	for i := range h.counts {
		l.Counts[i] = h.counts[i].Load()
	}
	l.Sum = time.Duration(h.sumNs.Load())
	return l
}
