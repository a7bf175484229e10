package engine

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// BenchmarkWorkerLoop is Run's path for one datagram: dispatch queues
// it, the worker goroutine takes it, handles it and accounts for it
// (jobs, busy time, the Wait and Handling histograms). The datagram is
// a NAT-keepalive on port 4500, which HandleDatagram ignores at once, so
// that the loop's own cost shows. The dispatcher never lets the queue
// fill (Run would drop): per op is the throughput of one worker.
func BenchmarkWorkerLoop(b *testing.B) {
	e := New(Options{})
	r := &runner{e: e}
	r.start(e.set.Load())
	defer r.stop()
	d := Datagram{Local: netip.MustParseAddrPort("192.0.2.1:4500"), Remote: netip.MustParseAddrPort("198.51.100.1:4500"), Data: []byte{0xff}}
	q := r.queues[peerIndex(d.Remote.Addr(), len(r.queues))]
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for len(q.hi) >= workerQueueLen-1 {
			runtime.Gosched()
		}
		r.dispatch(d)
		n++
	}
	for q.load.jobs.Load() < uint64(n) {
		runtime.Gosched()
	}
}

// BenchmarkLatencyObserve is what the histograms add to each job: two
// observe calls (a bucket scan and two atomic adds each), durations
// spread over the buckets.
func BenchmarkLatencyObserve(b *testing.B) {
	var h latencyHist
	ds := []time.Duration{3 * time.Microsecond, 40 * time.Microsecond, 700 * time.Microsecond, 8 * time.Millisecond, 2 * time.Second}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.observe(ds[i%len(ds)])
		i++
	}
}
