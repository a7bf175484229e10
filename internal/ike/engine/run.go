package engine

import (
	"context"
	"secgw/internal/ipsec"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/wire"
)

// Queue lengths of a worker in Run. A datagram that finds its queue full
// is dropped (DoSStats.QueueFull): IKE retransmits, and a reader that
// waited for one busy worker would stall all the others.
const (
	// workerQueueLen holds the datagrams of existing IKE SAs.
	workerQueueLen = 1024
	// initQueueLen holds IKE_SA_INIT requests, served only when the
	// first queue is empty.
	initQueueLen = 256
)

// Run reads datagrams from the Conn until ctx is done and hands each to
// a goroutine of the worker of its peer's address (global-options
// threads), which runs HandleDatagram: a peer is always served by the
// same worker, peers of different workers in parallel. IKE_SA_INIT
// requests wait in a queue of their own that a worker serves after the
// datagrams of existing IKE SAs, and are dropped on arrival while
// init-limit-job-load datagrams wait (dos.go). Run must not be called
// twice at once.
func (e *Engine) Run(ctx context.Context) error {
	r := &runner{e: e}
	e.running.Store(r)
	defer r.stop()
	for {
		d, err := e.o.Conn.Receive(ctx)
		if err != nil {
			return err
		}
		r.dispatch(d)
	}
}

// runner is Run's dispatcher and worker goroutines, for one worker set
// (SetConfig may replace it while no IKE SA exists).
type runner struct {
	e      *Engine
	set    *workerSet
	queues []workQueue
	// view is queues for WorkerStats, read from other goroutines.
	view atomic.Pointer[[]workQueue]
	done chan struct{}
	wg   sync.WaitGroup
}

type workQueue struct {
	hi, lo chan queued
	load   *workerLoad // opstats.go
}

// queued is a datagram in a worker's queue and when Run queued it (for
// WorkerStat.Wait).
type queued struct {
	d  Datagram
	at time.Time
}

func (r *runner) start(s *workerSet) {
	r.set, r.done = s, make(chan struct{})
	r.queues = make([]workQueue, len(s.workers))
	for i := range r.queues {
		q := workQueue{hi: make(chan queued, workerQueueLen), lo: make(chan queued, initQueueLen), load: &workerLoad{}}
		r.queues[i] = q
		r.wg.Add(1)
		go r.work(q, r.done)
	}
	qs := r.queues
	r.view.Store(&qs)
}

func (r *runner) stop() {
	if r.set == nil {
		return
	}
	close(r.done)
	r.wg.Wait()
	r.set = nil
}

// dispatch queues d for the worker of its peer.
func (r *runner) dispatch(d Datagram) {
	e := r.e
	if s := e.set.Load(); s != r.set {
		r.stop()
		r.start(s)
	}
	q := r.queues[peerIndex(d.Remote.Addr(), len(r.queues))]
	ch := q.hi
	if isInitRequest(d) {
		if jobLoadExceeded(e.config().Global, e.jobs.Load()) {
			e.dos.jobLoad.Add(1)
			e.debug("ignoring IKE_SA_INIT: init-limit-job-load reached", "remote", d.Remote, "jobs", e.jobs.Load())
			return
		}
		ch = q.lo
	}
	e.jobs.Add(1)
	select {
	case ch <- queued{d, time.Now()}:
	default:
		e.jobs.Add(-1)
		e.dos.queueFull.Add(1)
	}
}

// work is the goroutine of one worker: the datagrams of existing IKE SAs
// first, then IKE_SA_INIT requests. When done, what is still queued is
// dropped.
func (r *runner) work(q workQueue, done chan struct{}) {
	defer r.wg.Done()
	for {
		var j queued
		select {
		case j = <-q.hi:
		default:
			select {
			case j = <-q.hi:
			case j = <-q.lo:
			case <-done:
				r.e.jobs.Add(-int64(len(q.hi) + len(q.lo)))
				return
			}
		}
		r.e.jobs.Add(-1)
		start := time.Now()
		r.e.HandleDatagram(j.d)
		busy := time.Since(start)
		q.load.jobs.Add(1)
		q.load.busyNs.Add(uint64(busy))
		q.load.wait.observe(start.Sub(j.at))
		q.load.handling.observe(busy)
	}
}

// isInitRequest tells, from the header alone, whether d is an
// IKE_SA_INIT request (RFC 7296 §3.1: exchange 34, Response flag clear,
// responder SPI zero).
func isInitRequest(d Datagram) bool {
	data := d.Data
	if d.Local.Port() == PortNATT {
		if ipsec.ClassifyNATT(data) != ipsec.PacketIKE {
			return false
		}
		data, _ = ipsec.StripNonESPMarker(data)
	}
	h, err := wire.ParseHeader(data)
	return err == nil && h.Exchange == wire.ExchangeIKESAInit && !h.Flags.Response() && h.SPIr == 0
}
