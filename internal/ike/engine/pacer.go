package engine

import (
	"net/netip"
	"sync"
	"time"
)

// pacer spaces out the IKE SAs the engine initiates on its own —
// start-action start (when the configuration is applied at start, or a
// commit adds VPNs), close-action start and dpd-action restart — at
// global-options initiate-rate per second: thousands of initiators are
// brought up at that pace, not all at once (a thundering herd of
// IKE_SA_INITs that the peers' cookies and limits would turn away). An
// initiation runs at once while the rate allows it; the rest wait in
// order, and one Clock timer takes them when their turn comes. The lock
// is a leaf: the queued work runs without it.
type pacer struct {
	mu    sync.Mutex
	queue []pacedInit
	// next is the e.mono() value from which the next initiation may go.
	next  int64
	armed bool
}

// pacedInit is a queued initiation: f under the lock of the worker of
// peer.
type pacedInit struct {
	peer netip.Addr
	f    func(w *worker)
}

// pace runs f under the lock of the worker of peer a when initiate-rate
// allows it now, else once its turn comes. cur is the worker whose lock
// the caller holds (nil for none), as for onPeer.
func (e *Engine) pace(cur *worker, a netip.Addr, f func(w *worker)) {
	g := f
	f = func(w *worker) {
		if !e.standby() { // HA: a standby initiates nothing (ha.go)
			g(w)
		}
	}
	p := &e.pacer
	p.mu.Lock()
	interval, paced := e.initiateInterval()
	now := e.mono()
	if !paced || (len(p.queue) == 0 && now >= p.next) {
		if paced {
			p.next = now + interval
		}
		p.mu.Unlock()
		e.runOnPeer(cur, a, f)
		return
	}
	p.queue = append(p.queue, pacedInit{peer: a, f: f})
	e.armPacer(now)
	p.mu.Unlock()
}

// initiateInterval is the time between two paced initiations, and false
// when initiate-rate is 0 (no pacing).
func (e *Engine) initiateInterval() (int64, bool) {
	rate := e.config().Global.InitiateRate
	if rate <= 0 {
		return 0, false
	}
	return max(int64(time.Second)/int64(rate), 1), true
}

// armPacer arms the pacer's timer for the next turn unless it is armed;
// e.pacer.mu is held.
func (e *Engine) armPacer(now int64) {
	p := &e.pacer
	if p.armed || len(p.queue) == 0 {
		return
	}
	p.armed = true
	e.o.Clock.AfterFunc(time.Duration(max(p.next-now, 0)), e.pacerTurn)
}

// pacerTurn runs the queued initiations whose turn has come (all of them
// when initiate-rate became 0), then arms the timer for the rest.
func (e *Engine) pacerTurn() {
	defer e.recoverPanic("pacer")
	p := &e.pacer
	p.mu.Lock()
	p.armed = false
	interval, paced := e.initiateInterval()
	now := e.mono()
	n := len(p.queue)
	if paced {
		n = 0
		for n < len(p.queue) && now >= p.next {
			n++
			p.next += interval
		}
	}
	due := p.queue[:n:n]
	p.queue = p.queue[n:]
	if len(p.queue) == 0 {
		p.queue = nil
	}
	e.armPacer(now)
	p.mu.Unlock()
	for _, in := range due {
		e.runOnPeer(nil, in.peer, in.f)
	}
}

// runOnPeer is onPeer that also takes cur nil, when the caller holds no
// worker lock.
func (e *Engine) runOnPeer(cur *worker, a netip.Addr, f func(w *worker)) {
	if cur != nil {
		e.onPeer(cur, a, f)
		return
	}
	w := e.lockPeer(a)
	defer w.unlock()
	f(w)
}
