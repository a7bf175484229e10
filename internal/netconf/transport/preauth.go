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
// Over the total, the oldest connection is closed to admit the new one:
// a real client authenticates within milliseconds of connecting, so the
// oldest unauthenticated connections are the idle ones. Once half the
// total is in use, every unauthenticated connection gets the shorter
// BusyAuthTimeout.
type preauth struct {
	max, perSource int // < 0: none
	normal, busy   time.Duration

	mu       sync.Mutex
	order    list.List // of *preConn, oldest first
	bySource map[netip.Prefix]int
	evicted  uint64
	refused  uint64
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
	if p.perSource >= 0 && p.bySource[src] >= p.perSource {
		p.refused++
		return nil
	}
	if p.max >= 0 && p.order.Len() >= p.max {
		if old := p.order.Front(); old != nil {
			p.removeLocked(old.Value.(*preConn))
			p.evicted++
			_ = old.Value.(*preConn).nc.Close()
		}
	}
	c := &preConn{nc: nc, src: src, start: now, deadline: now.Add(p.normal)}
	c.elem = p.order.PushBack(c)
	p.bySource[src]++
	if p.max >= 0 && 2*p.order.Len() >= p.max {
		// Under pressure: every unauthenticated connection gets the short
		// timeout, counted from when it connected.
		for e := p.order.Front(); e != nil; e = e.Next() {
			pc := e.Value.(*preConn)
			if d := pc.start.Add(p.busy); d.Before(pc.deadline) {
				pc.deadline = d
				_ = pc.nc.SetDeadline(d)
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
	p.order.Remove(c.elem)
	c.elem = nil
	if p.bySource[c.src]--; p.bySource[c.src] <= 0 {
		delete(p.bySource, c.src)
	}
}

// evictOldest closes the oldest unauthenticated connection, for an
// accept that failed for want of file descriptors; it reports whether
// there was one.
func (p *preauth) evictOldest() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.order.Front()
	if old == nil {
		return false
	}
	pc := old.Value.(*preConn)
	p.removeLocked(pc)
	p.evicted++
	_ = pc.nc.Close()
	return true
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
	return PreauthStats{Pending: p.order.Len(), Evicted: p.evicted, Refused: p.refused}
}
