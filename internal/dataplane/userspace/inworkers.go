package userspace

import (
	"net/netip"
	"sync"

	"secgw/internal/edge"
	"secgw/internal/esp"
)

// inWorkers spread the inbound ESP that a socket reader hands to
// HandleESPBatched over several goroutines. The SPI picks the worker, so
// the packets of an SA stay in their order (the replay window of RFC 4303
// §3.4.3 would take them reordered, TCP would not like it) and an SA's
// window is never contended; each worker writes into a TUN queue of its
// own, with its own coalescer. The reader copies each datagram into a
// slot of the pending batch of its worker (a batch is one arena, so that
// what crosses to the worker's CPU is packed) and hands the batches over
// when a batch is full and at the end of its own batch (FlushESP);
// datagrams too big for a slot are opened by the reader itself. A full worker queue blocks the
// reader: the socket's receive queue absorbs the burst, as it does
// inline.
type inWorkers struct {
	workers []*inWorker
	mu      sync.Mutex
	pending []*inBatch // by worker, nil when empty
	batches sync.Pool  // *inBatch
}

// maxInWorkers bounds InboundWorkers.
const maxInWorkers = 64

// inBatchMax is the number of datagrams of one hand-over: a GRO run.
const inBatchMax = 64

// inQueue is the number of batches a worker may have waiting.
const inQueue = 16

// inSlot is the room of one datagram in a batch: ESP scratch, an
// Ethernet-sized datagram and the room a transport-mode header needs.
const inSlot = 2048

type inPkt struct {
	n             int
	local, remote netip.AddrPort
}

type inBatch struct {
	pkts  [inBatchMax]inPkt
	arena [inBatchMax * inSlot]byte
	n     int
}

// slot returns the buffer of datagram i, ending at its slot's end.
func (b *inBatch) slot(i int) []byte {
	return b.arena[i*inSlot : (i+1)*inSlot : (i+1)*inSlot]
}

type inWorker struct {
	ch  chan *inBatch
	dev edge.Device
}

// startInWorkers starts n workers; worker i writes into TUN queue i
// modulo the queues.
func (d *Dataplane) startInWorkers(n int) *inWorkers {
	n = min(n, maxInWorkers)
	w := &inWorkers{pending: make([]*inBatch, n)}
	w.batches.New = func() any { return new(inBatch) }
	for i := range n {
		wk := &inWorker{ch: make(chan *inBatch, inQueue), dev: d.o.TUN[i%len(d.o.TUN)]}
		w.workers = append(w.workers, wk)
		d.wg.Add(1)
		go d.runInWorker(w, wk)
	}
	return w
}

// workerOf maps an SPI to a worker: SPIs are random (AllocSPI), but a
// peer's need not be, so the bits are mixed first.
func (w *inWorkers) workerOf(spi uint32) int {
	h := spi * 0x9e3779b1
	return int(uint64(h>>16) * uint64(len(w.workers)) >> 16)
}

// queue copies one ESP datagram into the pending batch of its SPI's
// worker.
func (w *inWorkers) queue(d *Dataplane, local, remote netip.AddrPort, data []byte) {
	if len(data) > inSlot-esp.Scratch {
		// Rare (jumbo frames, reassembled fragments): in order with the
		// SA's queued packets only if those go first.
		w.flush(d)
		d.handleESP(local, remote, data, true)
		return
	}
	i := w.workerOf(esp.SPI(data))
	w.mu.Lock()
	b := w.pending[i]
	if b == nil {
		b = w.batches.Get().(*inBatch)
		w.pending[i] = b
	}
	copy(b.slot(b.n)[esp.Scratch:], data)
	b.pkts[b.n] = inPkt{n: len(data), local: local, remote: remote}
	b.n++
	full := b.n == inBatchMax
	if full {
		w.pending[i] = nil
	}
	w.mu.Unlock()
	if full {
		w.send(d, i, b)
	}
}

// flush hands every pending batch to its worker.
func (w *inWorkers) flush(d *Dataplane) {
	var out [maxInWorkers]*inBatch
	w.mu.Lock()
	copy(out[:], w.pending)
	clear(w.pending)
	w.mu.Unlock()
	for i, b := range out[:len(w.workers)] {
		if b != nil {
			w.send(d, i, b)
		}
	}
}

func (w *inWorkers) send(d *Dataplane, i int, b *inBatch) {
	select {
	case w.workers[i].ch <- b:
	case <-d.done:
		w.release(d, b)
	}
}

// release returns a batch to its pool.
func (w *inWorkers) release(d *Dataplane, b *inBatch) {
	b.n = 0
	w.batches.Put(b)
}

// runInWorker opens the batches of one worker; what its TUN queue holds
// back is written when no batch is waiting.
func (d *Dataplane) runInWorker(w *inWorkers, wk *inWorker) {
	defer d.wg.Done()
	cd, _ := wk.dev.(edge.CoalescingDevice)
	for {
		select {
		case <-d.done:
			return
		case b := <-wk.ch:
			for i := range b.n {
				p := &b.pkts[i]
				d.inbound(wk.dev, b.slot(i), p.n, p.local, p.remote, true)
			}
			w.release(d, b)
			if cd != nil && len(wk.ch) == 0 {
				if err := cd.Flush(); err != nil {
					d.stats.tunErr.Add(1)
				}
			}
		}
	}
}
