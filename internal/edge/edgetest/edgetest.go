// Package edgetest holds in-memory twins of the userspace dataplane's OS
// edges: a TUN device and a UDP network of Binds, for tests that run two
// dataplanes in one process.
package edgetest

import (
	"net/netip"
	"sync"

	"secgw/internal/edge"
)

// ErrClosed is returned by a closed TUN or Bind.
var ErrClosed = edge.ErrClosed

// TUN is an in-memory edge.Device. Inject queues a packet for the
// dataplane to read (as if the kernel routed it into the tunnel); packets
// the dataplane writes come out of Out.
type TUN struct {
	in   chan []byte
	out  chan []byte
	done chan struct{}
	once sync.Once
}

// NewTUN returns a TUN with queues of n packets each way.
func NewTUN(n int) *TUN {
	return &TUN{in: make(chan []byte, n), out: make(chan []byte, n), done: make(chan struct{})}
}

// Inject queues a copy of p for Read.
func (t *TUN) Inject(p []byte) { t.in <- append([]byte(nil), p...) }

// Out delivers the packets written by the dataplane.
func (t *TUN) Out() <-chan []byte { return t.out }

// Read implements edge.Device.
func (t *TUN) Read(b []byte) (int, error) {
	select {
	case p := <-t.in:
		return copy(b, p), nil
	case <-t.done:
		return 0, ErrClosed
	}
}

// Write implements edge.Device; it drops the packet when Out is
// full, as a kernel queue would.
func (t *TUN) Write(b []byte) (int, error) {
	select {
	case <-t.done:
		return 0, ErrClosed
	default:
	}
	select {
	case t.out <- append([]byte(nil), b...):
	default:
	}
	return len(b), nil
}

// Close implements edge.Device.
func (t *TUN) Close() error {
	t.once.Do(func() { close(t.done) })
	return nil
}

// Net is an in-memory UDP network: datagrams sent by one of its Binds to
// an address another Bind holds are delivered to that Bind.
type Net struct {
	mu    sync.Mutex
	binds map[netip.AddrPort]*Bind
	// Filter, if set, sees every datagram and may drop it (false) or
	// change its bytes in place.
	Filter func(from, to netip.AddrPort, b []byte) bool
}

// NewNet returns an empty network.
func NewNet() *Net { return &Net{binds: map[netip.AddrPort]*Bind{}} }

// Bind is one endpoint of a Net: a edge.Bind holding local addresses.
type Bind struct {
	net   *Net
	addrs []netip.AddrPort
	in    chan edge.Datagram
	done  chan struct{}
	once  sync.Once
	// Sent counts the datagrams sent, Delivered those received.
	mu              sync.Mutex
	sent, delivered int
}

// Bind attaches a Bind holding addrs, with a receive queue of 1024.
func (n *Net) Bind(addrs ...netip.AddrPort) *Bind {
	b := &Bind{net: n, addrs: addrs, in: make(chan edge.Datagram, 1024), done: make(chan struct{})}
	n.mu.Lock()
	for _, a := range addrs {
		n.binds[a] = b
	}
	n.mu.Unlock()
	return b
}

// Deliver hands b a datagram as if it arrived on the network.
func (b *Bind) Deliver(from, to netip.AddrPort, p []byte) {
	select {
	case b.in <- edge.Datagram{Buf: append([]byte(nil), p...), Local: to, Remote: from}:
	default: // queue full: lost, as UDP would
	}
}

// ReceiveFuncs implements edge.Bind.
func (b *Bind) ReceiveFuncs() []edge.ReceiveFunc {
	return []edge.ReceiveFunc{b.receive}
}

func (b *Bind) receive(ds []edge.Datagram) (int, error) {
	var d edge.Datagram
	select {
	case d = <-b.in:
	case <-b.done:
		return 0, ErrClosed
	}
	n := 0
	for {
		ds[n].Buf = ds[n].Buf[:copy(ds[n].Buf[:cap(ds[n].Buf)], d.Buf)]
		ds[n].Local, ds[n].Remote = d.Local, d.Remote
		n++
		if n == len(ds) {
			break
		}
		select {
		case d = <-b.in:
			continue
		default:
		}
		break
	}
	b.mu.Lock()
	b.delivered += n
	b.mu.Unlock()
	return n, nil
}

// Send implements edge.Bind: each datagram goes to the Bind holding
// its Remote address, if any.
func (b *Bind) Send(ds []edge.Datagram) error {
	for _, d := range ds {
		b.mu.Lock()
		b.sent++
		b.mu.Unlock()
		p := append([]byte(nil), d.Buf...)
		if f := b.net.Filter; f != nil && !f(d.Local, d.Remote, p) {
			continue
		}
		b.net.mu.Lock()
		to := b.net.binds[d.Remote]
		b.net.mu.Unlock()
		if to != nil {
			to.Deliver(d.Local, d.Remote, p)
		}
	}
	return nil
}

// Counts returns the datagrams sent and received so far.
func (b *Bind) Counts() (sent, delivered int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent, b.delivered
}

// Close implements edge.Bind.
func (b *Bind) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}
