package transport

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// preauth tracks the connections that have not authenticated yet: at
// most Limits.MaxUnauthenticated of them, Limits.MaxUnauthenticatedPerSource
// per source. Each holds a socket and a goroutine for up to the hello
// timeout at no cost to the client, so a flood of idle connections would
// otherwise exhaust the file descriptors and keep every login out (issue
// 22: 20,200 of them stalled an admin login for 24 s).
//
// Over the total, a connection is closed to admit the new one: the oldest
// of the source holding the most. A real client authenticates within
// milliseconds of connecting, so the oldest unauthenticated connections
// are the idle ones; and the flood's sources hold many each, so that a
// login from elsewhere is not the one closed even when the flood opens
// connections faster than the login completes. Once half the total is in
// use, every unauthenticated connection gets the shorter BusyAuthTimeout.
type preauth struct {
	max, perSource int // < 0: none
	normal, busy   time.Duration

	mu       sync.Mutex
	n        int                         // connections in bySource
	bySource map[netip.Prefix]*list.List // of *preConn, oldest first
	evicted  uint64
	refused  uint64
	busyMode bool // at least half of max in use: new connections get busy
}

// preConn is one connection in the handshake or authentication.
type preConn struct {
	nc       net.Conn
	src      netip.Prefix
	start    time.Time
	deadline time.Time
	elem     *list.Element // nil once done or evicted
}

// sourceOf is the key of an address for the per-source limit: the IPv4
// address, or the /64 of an IPv6 address (one host's usual share).
func sourceOf(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{} // in-memory connections of the tests: one source
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// admit registers nc, closing the oldest unauthenticated connection if
// the total is reached, and sets nc's deadline for the handshake and
// authentication. It returns nil when nc's source is over its limit: the
// caller closes nc.
func (p *preauth) admit(nc net.Conn) *preConn {
	src := sourceOf(nc.RemoteAddr())
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.bySource[src]
	if p.perSource >= 0 && l != nil && l.Len() >= p.perSource {
		p.refused++
		return nil
	}
	if p.max >= 0 && p.n >= p.max {
		p.evictLocked()
	}
	c := &preConn{nc: nc, src: src, start: now, deadline: now.Add(p.normal)}
	if p.busyMode {
		c.deadline = now.Add(p.busy)
	}
	if l = p.bySource[src]; l == nil {
		l = list.New()
		p.bySource[src] = l
	}
	c.elem = l.PushBack(c)
	p.n++
	if p.max >= 0 && 2*p.n >= p.max && !p.busyMode {
		// Pressure begins: every unauthenticated connection gets the
		// short timeout, counted from when it connected; new ones get it
		// until the pressure is over.
		p.busyMode = true
		for _, l := range p.bySource {
			for e := l.Front(); e != nil; e = e.Next() {
				pc := e.Value.(*preConn)
				if d := pc.start.Add(p.busy); d.Before(pc.deadline) {
					pc.deadline = d
					_ = pc.nc.SetDeadline(d)
				}
			}
		}
	}
	_ = nc.SetDeadline(c.deadline)
	return c
}

// done unregisters c once it has authenticated or failed.
func (p *preauth) done(c *preConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.elem != nil {
		p.removeLocked(c)
	}
}

func (p *preauth) removeLocked(c *preConn) {
	l := p.bySource[c.src]
	l.Remove(c.elem)
	c.elem = nil
	p.n--
	if l.Len() == 0 {
		delete(p.bySource, c.src)
	}
	if 2*p.n < p.max {
		p.busyMode = false
	}
}

// evictLocked closes the oldest connection of the source with the most
// (of the oldest such sources' connections on a tie); it reports whether
// there was one.
func (p *preauth) evictLocked() bool {
	var victim *preConn
	most := 0
	for _, l := range p.bySource {
		pc := l.Front().Value.(*preConn)
		if l.Len() > most || l.Len() == most && pc.start.Before(victim.start) {
			victim, most = pc, l.Len()
		}
	}
	if victim == nil {
		return false
	}
	p.removeLocked(victim)
	p.evicted++
	_ = victim.nc.Close()
	return true
}

// evict closes an unauthenticated connection as admit does over the
// total, for an accept that failed for want of file descriptors; it
// reports whether there was one.
func (p *preauth) evict() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evictLocked()
}

// PreauthStats counts what the limits on unauthenticated connections did.
type PreauthStats struct {
	// Pending is the number of connections not authenticated yet.
	Pending int
	// Evicted counts connections closed to make room for newer ones.
	Evicted uint64
	// Refused counts connections closed at once for their source's limit.
	Refused uint64
}

func (p *preauth) stats() PreauthStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PreauthStats{Pending: p.n, Evicted: p.evicted, Refused: p.refused}
}
