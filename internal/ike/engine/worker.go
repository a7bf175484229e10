package engine

import (
	"fmt"
	"net/netip"
	"runtime/debug"
	"sync"

	"secgw/internal/ike/config"
)

// Workers (global-options threads; the multi-worker design of the
// reference, where "a given instance of iked is used for a specific VPN
// peer"): the engine's IKE SAs are split among workers by a hash of the
// peer's IP address. A worker is
//
//   - a lock: an IKE SA is checked out to its worker, the one of its
//     peer's address, for its whole life; everything the SA holds is
//     only read or written with that worker's lock held;
//   - a timer heap (timers.go) for the timers of its SAs, driven by one
//     Clock timer;
//   - the per-peer state of the DoS protection (dos.go): half-open SAs
//     by initiator address and SPI, and their count per peer address;
//   - in Run, a goroutine that handles the datagrams of its peers.
//
// Since all the IKE SAs of a peer address live on one worker, everything
// that spans IKE SAs of one peer (an IKE SA rekey moving child SAs, the
// make-before-break reauthentication deleting the old IKE SA, close- and
// dpd-action looking for a child SA of a policy of an initiating VPN,
// whose IKE SAs all have the VPN's remote-address as peer) runs under one
// lock. What spans workers (the operator's commands over all SAs, a
// configuration change) takes the locks one by one, or all in index
// order (lockAll: a responder-only VPN's actions, the reshape of the
// workers).
// Work one worker must hand to another is queued on the first
// (worker.later) and runs once its lock is released, so that a goroutine
// never holds two worker locks but in lockAll.
type worker struct {
	e  *Engine
	id int
	mu sync.Mutex

	// retired: the worker belongs to a worker set that SetConfig
	// replaced (only ever when no IKE SA existed); whoever locked it
	// must start again with the current set.
	retired bool

	// head is the first of the worker's IKE SAs, a list through
	// ikeSA.wprev and wnext, for the commands that visit every SA.
	head *ikeSA
	// byVPN is the first IKE SA of each VPN, a list through ikeSA.vprev
	// and vnext (vpnindex.go): a commit visits the SAs of the VPNs it
	// changes, not every SA.
	byVPN map[string]*ikeSA

	// halfOpen finds a responder SA by the initiator's address and SPI,
	// to answer a retransmitted IKE_SA_INIT request from its cache (RFC
	// 7296 §2.1); perPeer counts the half-open SAs of each peer address,
	// unverified and verified (dos-protection block-threshold, dos.go).
	halfOpen map[halfOpenKey]*ikeSA
	perPeer  map[netip.Addr]peerHalfOpen

	timers timerHeap
	clock  workerClock

	// later is work for other workers found under this worker's lock;
	// unlock runs it.
	later []func()
	// afterResponse is what the request being answered leads to, run
	// once the response is sent (handleRequest): a worker answers one
	// request at a time.
	afterResponse []func()
	// haDirty are the IKE SAs changed under the lock, reported to the
	// SyncSink when it is released (ha.go).
	haDirty []*ikeSA
}

// workerSet is the engine's workers and SA table, replaced as a whole
// when SetConfig changes threads or the table's shape while no IKE SA
// exists.
type workerSet struct {
	workers []*worker
	table   *saTable
	// threads, size and segments are the configured values the set was
	// built from (before rounding), to tell whether a configuration
	// changes them.
	threads, size, segments int
}

func (e *Engine) newWorkerSet(g config.Global) *workerSet {
	n := g.Threads
	if n <= 0 {
		n = config.DefaultThreads
	}
	s := &workerSet{table: newSATable(g.SATableSize, g.SATableSegments, e.log), threads: g.Threads, size: g.SATableSize, segments: g.SATableSegments}
	for i := range n {
		s.workers = append(s.workers, &worker{e: e, id: i, halfOpen: map[halfOpenKey]*ikeSA{}, perPeer: map[netip.Addr]peerHalfOpen{},
			byVPN: map[string]*ikeSA{}})
	}
	return s
}

// sameShape reports whether g asks for the set's threads and table.
func (s *workerSet) sameShape(g config.Global) bool {
	return s.threads == g.Threads && s.size == g.SATableSize && s.segments == g.SATableSegments
}

// peerIndex hashes a peer address to one of n workers. The hash is fixed
// (no per-process seed), so that a peer's worker is reproducible in tests
// and logs.
func peerIndex(a netip.Addr, n int) int {
	b := a.Unmap().As16()
	h := uint64(14695981039346656037)
	for _, x := range b {
		h ^= uint64(x)
		h *= 1099511628211
	}
	h ^= h >> 29
	return int(h % uint64(n))
}

// workerFor returns the worker of a peer address in the current set.
func (e *Engine) workerFor(a netip.Addr) *worker {
	s := e.set.Load()
	return s.workers[peerIndex(a, len(s.workers))]
}

// lockPeer locks and returns the worker of a peer address.
func (e *Engine) lockPeer(a netip.Addr) *worker {
	for {
		w := e.workerFor(a)
		w.mu.Lock()
		if !w.retired {
			return w
		}
		w.mu.Unlock()
	}
}

// lockSA locks the worker of sa and reports whether sa is still in the
// engine (not removed meanwhile); the caller unlocks either way.
func (e *Engine) lockSA(sa *ikeSA) (*worker, bool) {
	w := sa.w
	w.mu.Lock()
	return w, sa.state != stateDeleted
}

// unlock releases the worker, then runs the work it queued for others.
func (w *worker) unlock() {
	if len(w.haDirty) > 0 {
		w.flushSync()
	}
	later := w.later
	w.later = nil
	w.mu.Unlock()
	for _, f := range later {
		f()
	}
}

// lockAll locks every worker of the current set, in index order.
func (e *Engine) lockAll() *workerSet {
	for {
		s := e.set.Load()
		for _, w := range s.workers {
			w.mu.Lock()
		}
		if !s.workers[0].retired {
			return s
		}
		for _, w := range s.workers {
			w.mu.Unlock()
		}
	}
}

// unlockAll releases what lockAll locked, then runs the queued work.
func (s *workerSet) unlockAll() {
	var later []func()
	for _, w := range s.workers {
		if len(w.haDirty) > 0 {
			w.flushSync()
		}
		later = append(later, w.later...)
		w.later = nil
	}
	for _, w := range s.workers {
		w.mu.Unlock()
	}
	for _, f := range later {
		f()
	}
}

// onPeer runs f under the lock of the worker of peer address a: at once
// when that is cur, whose lock the caller holds, else once cur's lock is
// released.
func (e *Engine) onPeer(cur *worker, a netip.Addr, f func(w *worker)) {
	if w := e.workerFor(a); w == cur && !w.retired {
		f(w)
		return
	}
	cur.later = append(cur.later, func() {
		w := e.lockPeer(a)
		defer w.unlock()
		f(w)
	})
}

// add puts a new IKE SA on the worker's list; w.mu is held.
func (w *worker) add(sa *ikeSA) {
	sa.w = w
	sa.hidx = -1
	sa.wnext = w.head
	if w.head != nil {
		w.head.wprev = sa
	}
	w.head = sa
	w.link(sa)
}

// drop takes an IKE SA off the worker's list and timers; w.mu is held.
func (w *worker) drop(sa *ikeSA) {
	if sa.wprev != nil {
		sa.wprev.wnext = sa.wnext
	} else if w.head == sa {
		w.head = sa.wnext
	}
	if sa.wnext != nil {
		sa.wnext.wprev = sa.wprev
	}
	sa.wprev, sa.wnext = nil, nil
	w.unlink(sa)
	w.timers.remove(sa)
}

// each calls f for every IKE SA of the worker until f returns false;
// w.mu is held and f must not remove SAs other than the one it is given.
func (w *worker) each(f func(sa *ikeSA) bool) bool {
	for sa := w.head; sa != nil; {
		next := sa.wnext
		if !f(sa) {
			return false
		}
		sa = next
	}
	return true
}

// eachSA calls f for every IKE SA of the engine, with its worker locked,
// one worker at a time, until f returns false.
func (e *Engine) eachSA(f func(sa *ikeSA) bool) {
	for _, w := range e.set.Load().workers {
		if !w.eachLocked(f) {
			return
		}
	}
}

// eachLocked is each with the worker's lock taken and released, also
// when f panics.
func (w *worker) eachLocked(f func(sa *ikeSA) bool) bool {
	w.mu.Lock()
	defer w.unlock()
	return w.each(f)
}

// recoverPanic is deferred at the roots of the engine's own goroutines
// (a worker's datagrams, its timers): a panic becomes a log line with
// the stack and a count (Panics), and costs the datagram or the timer
// round, not the daemon. The worker lock of the section that panicked
// is already released: every lock section unlocks in a defer, so a
// panic on a caller's goroutine (an API call) also leaves no lock held.
func (e *Engine) recoverPanic(where string) {
	if p := recover(); p != nil {
		e.panics.Add(1)
		e.log.Error("recovered panic", "in", where, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
}

// Panics returns how many panics the engine recovered from.
func (e *Engine) Panics() uint64 { return e.panics.Load() }
