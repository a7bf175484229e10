package engine

import (
	"time"
)

// Timers that scale (100k IKE SAs with DPD running): no runtime
// timer per timer per SA. Each IKE SA keeps the deadlines of its timers
// (ikeSA.at, childSA.at, its TEMPORARY_FAILURE retries) as nanoseconds of
// the engine's clock, 0 meaning not armed, and sits once in its worker's
// heap, ordered by the earliest of them (its wake). Each worker has one
// Clock timer, armed for the head of its heap; when it fires, the worker
// runs, under its lock, every SA whose wake has come, and each SA runs
// its due timers. A timer is thus a message "SA, kind" that does nothing
// when its deadline was moved or cleared meanwhile: stopping a timer is
// clearing its deadline.
//
// Arming and stopping cost O(log n) in the SA's worker; memory is one
// heap slot and one deadline per timer kind per SA. The Clock interface
// stays the test seam: inside a testing/synctest bubble SystemClock runs
// on the bubble's fake time.

// timerKind names the timers of an IKE SA.
type timerKind uint8

// IKE SA timers, in the order they run when due together.
const (
	timerRetransmit timerKind = iota // the outstanding request (taskmgr.go)
	timerReasmReq                    // reassembly of a fragmented request (fragment.go)
	timerReasmResp                   // reassembly of a fragmented response
	timerKeepalive                   // NAT keepalive (keepalive.go)
	timerHalfOpen                    // half-open responder SA timeout (dos.go)
	timerDPD                         // dpd-delay (dpd.go)
	timerIKERekey                    // soft lifetime: rekey (lifetime.go)
	timerIKEReauth                   // soft lifetime: reauthentication
	timerIKEExpire                   // hard lifetime
	numTimers
)

// Child SA timers.
const (
	timerChildRekey = iota
	timerChildExpire
	numChildTimers
)

// mono is the engine's clock: nanoseconds since New, plus one, so that 0
// always means "never" (a deadline not armed, a time not reached).
func (e *Engine) mono() int64 { return int64(time.Since(e.epoch)) + 1 }

// deadline is the clock value d from now, at least 1 ns ahead so that a
// timer armed from a handler waits for the next round.
func (e *Engine) deadline(d time.Duration) int64 { return e.mono() + max(int64(d), 1) }

// timeAt turns a deadline into a time, for the operational state.
func (e *Engine) timeAt(at int64) time.Time {
	if at == 0 {
		return time.Time{}
	}
	return e.epoch.Add(time.Duration(at - 1))
}

// arm sets timer k of the SA to fire after d; sa.w.mu is held.
func (sa *ikeSA) arm(k timerKind, d time.Duration) {
	sa.at[k] = sa.w.e.deadline(d)
	sa.resched()
}

// disarm stops timer k of the SA.
func (sa *ikeSA) disarm(k timerKind) {
	if sa.at[k] != 0 {
		sa.at[k] = 0
		sa.resched()
	}
}

// armChild sets timer k of child SA c, which belongs to sa.
func (sa *ikeSA) armChild(c *childSA, k int, d time.Duration) {
	c.at[k] = sa.w.e.deadline(d)
	sa.resched()
}

// childRetry is a child SA creation to try again after TEMPORARY_FAILURE
// (RFC 7296 §2.25).
type childRetry struct {
	at      int64
	policy  string
	hint    *Packet
	retries int
}

// resched puts the SA in its worker's heap at its earliest deadline, or
// takes it out when it has none.
func (sa *ikeSA) resched() {
	var wake int64
	earlier := func(at int64) {
		if at != 0 && (wake == 0 || at < wake) {
			wake = at
		}
	}
	for _, at := range sa.at {
		earlier(at)
	}
	for _, c := range sa.children {
		for _, at := range c.at {
			earlier(at)
		}
	}
	if sa.retries != nil {
		for _, r := range *sa.retries {
			earlier(r.at)
		}
	}
	w := sa.w
	if wake == 0 || sa.state == stateDeleted {
		w.timers.remove(sa)
		return
	}
	w.timers.set(sa, wake)
	w.armClock()
}

// fire runs the SA's timers that are due at now, in timerKind order, then
// its child SAs' and its retries; each handler may arm timers again or
// remove the SA.
func (sa *ikeSA) fire(now int64) {
	for k := range numTimers {
		if at := sa.at[k]; at != 0 && at <= now {
			sa.at[k] = 0
			sa.expired(k)
			if sa.state == stateDeleted {
				return
			}
		}
	}
	for due := true; due && sa.state != stateDeleted; {
		due = false
		for _, c := range sa.children {
			for k, at := range c.at {
				if at != 0 && at <= now {
					c.at[k] = 0
					sa.expiredChild(c, k)
					due = true
					break
				}
			}
			if due {
				break // the handler may have changed sa.children
			}
		}
	}
	for i := 0; sa.retries != nil && i < len(*sa.retries) && sa.state != stateDeleted; {
		rs := *sa.retries
		if r := rs[i]; r.at <= now {
			rs = append(rs[:i], rs[i+1:]...)
			if *sa.retries = rs; len(rs) == 0 {
				sa.retries = nil
			}
			sa.retryChild(r)
			continue
		}
		i++
	}
	if sa.state != stateDeleted {
		sa.resched()
	}
}

// expired runs timer k of the SA.
func (sa *ikeSA) expired(k timerKind) {
	switch k {
	case timerRetransmit:
		sa.expiredRetransmit()
	case timerReasmReq, timerReasmResp:
		sa.expiredReassembly(int(k - timerReasmReq))
	case timerKeepalive:
		sa.expiredKeepalive()
	case timerHalfOpen:
		sa.expiredHalfOpen()
	default:
		sa.expiredIKETimer(k)
	}
}

// workerClock is the one Clock timer of a worker, armed for armedAt (0:
// none armed); gen tells a superseded timer from the current one.
type workerClock struct {
	armedAt int64
	gen     uint64
	stop    func() bool
}

// armClock arms the worker's Clock timer for the head of its heap, when
// that is earlier than what is armed. A timer armed for a deadline that
// was cleared since just finds nothing due and arms the next one.
func (w *worker) armClock() {
	if len(w.timers) == 0 {
		return
	}
	wake := w.timers[0].wake
	c := &w.clock
	if c.armedAt != 0 && c.armedAt <= wake {
		return
	}
	if c.stop != nil {
		c.stop()
	}
	c.armedAt = wake
	c.gen++
	gen, e := c.gen, w.e
	c.stop = e.o.Clock.AfterFunc(time.Duration(max(wake-e.mono(), 0)), func() { e.fireWorker(w, gen) })
}

// fireWorker runs the due timers of a worker.
func (e *Engine) fireWorker(w *worker, gen uint64) {
	defer e.recoverPanic("timers")
	w.mu.Lock()
	defer w.unlock()
	if gen != w.clock.gen {
		return // superseded by an earlier deadline
	}
	w.clock.armedAt, w.clock.stop = 0, nil
	now := e.mono()
	for len(w.timers) > 0 && w.timers[0].wake <= now {
		sa := w.timers[0].sa
		w.timers.remove(sa)
		sa.fire(now)
	}
	w.armClock()
}

// timerHeap is a 4-ary min-heap of IKE SAs by wake; ikeSA.hidx is the
// SA's index, -1 when it is not in the heap. Entries carry the wake so
// that ordering the heap reads the heap's array, not the SAs (100k SAs do
// not fit in a cache); four children per node halve the depth.
type timerHeap []heapEntry

type heapEntry struct {
	wake int64
	sa   *ikeSA
}

const heapArity = 4

func (h timerHeap) head() *ikeSA {
	if len(h) == 0 {
		return nil
	}
	return h[0].sa
}

// set puts sa in the heap at wake, or moves it there.
func (h *timerHeap) set(sa *ikeSA, wake int64) {
	if sa.hidx < 0 {
		sa.hidx = int32(len(*h))
		*h = append(*h, heapEntry{wake, sa})
		h.up(int(sa.hidx))
		return
	}
	old := (*h)[sa.hidx].wake
	(*h)[sa.hidx].wake = wake
	if wake < old {
		h.up(int(sa.hidx))
	} else if wake > old {
		h.down(int(sa.hidx))
	}
}

// remove takes sa out of the heap if it is in it.
func (h *timerHeap) remove(sa *ikeSA) {
	i := int(sa.hidx)
	if i < 0 {
		return
	}
	last := len(*h) - 1
	if i != last {
		(*h)[i] = (*h)[last]
		(*h)[i].sa.hidx = int32(i)
	}
	(*h)[last] = heapEntry{}
	*h = (*h)[:last]
	sa.hidx = -1
	if i != last {
		if !h.up(i) {
			h.down(i)
		}
	}
}

// up moves element i towards the root; it reports whether it moved.
func (h timerHeap) up(i int) bool {
	x := h[i]
	start := i
	for i > 0 {
		p := (i - 1) / heapArity
		if h[p].wake <= x.wake {
			break
		}
		h[i] = h[p]
		h[i].sa.hidx = int32(i)
		i = p
	}
	h[i] = x
	x.sa.hidx = int32(i)
	return i != start
}

func (h timerHeap) down(i int) {
	x := h[i]
	n := len(h)
	for {
		c := heapArity*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+heapArity, n); j++ {
			if h[j].wake < h[m].wake {
				m = j
			}
		}
		if x.wake <= h[m].wake {
			break
		}
		h[i] = h[m]
		h[i].sa.hidx = int32(i)
		i = m
	}
	h[i] = x
	x.sa.hidx = int32(i)
}
