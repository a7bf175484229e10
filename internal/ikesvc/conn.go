package ikesvc

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/tcpencap"
	"secgw/internal/ike/udpconn"
)

// switchConn is the engine's Conn over a set of per-address udpconn.Conns
// that commits change while the engine runs: a datagram is sent from the
// socket of its local address, and every socket's datagrams are received
// through one queue.
type switchConn struct {
	mu    sync.Mutex
	conns map[netip.Addr]*udpconn.Conn
	// draining marks the addresses of conns no configuration wants any
	// more: their sockets stay open, sending and receiving, until the
	// IKE SAs on them are gone (their DELETE exchanges need them), see
	// Service.drain.
	draining map[netip.Addr]bool
	recv     chan engine.Datagram
	// tcp holds the TCP streams of IKE and ESP (tcp.go).
	tcp *tcpencap.Mux
	// host are the host's addresses as the daemon last saw them, nil
	// while unknown (mobike.go: SetHostAddrs).
	host []netip.Addr
}

func newSwitchConn() *switchConn {
	return &switchConn{conns: map[netip.Addr]*udpconn.Conn{}, draining: map[netip.Addr]bool{},
		recv: make(chan engine.Datagram, 256)}
}

// setDraining marks or unmarks the socket of address a as draining and
// reports whether a has a socket.
func (s *switchConn) setDraining(a netip.Addr, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[a] == nil {
		return false
	}
	if on {
		s.draining[a] = true
	} else {
		delete(s.draining, a)
	}
	return true
}

// isDraining reports whether the socket of address a is draining.
func (s *switchConn) isDraining(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining[a]
}

// closeDrained closes and forgets the socket of address a if it is still
// draining (a later commit may have taken it back).
func (s *switchConn) closeDrained(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.draining[a] {
		return false
	}
	delete(s.draining, a)
	if c := s.conns[a]; c != nil {
		c.Close()
		delete(s.conns, a)
	}
	return true
}

// add starts using c for address a.
func (s *switchConn) add(a netip.Addr, c *udpconn.Conn) {
	s.mu.Lock()
	s.conns[a] = c
	s.mu.Unlock()
	go func() {
		for {
			d, err := c.Receive(context.Background())
			if err != nil {
				return // closed
			}
			s.recv <- d
		}
	}()
}

// remove stops using the Conn of address a and returns it (open).
func (s *switchConn) remove(a netip.Addr) *udpconn.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[a]
	delete(s.conns, a)
	delete(s.draining, a)
	return c
}

func (s *switchConn) closeAll() {
	s.tcp.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, c := range s.conns {
		c.Close()
		delete(s.conns, a)
		delete(s.draining, a)
	}
}

// Send implements engine.Conn.
func (s *switchConn) Send(d engine.Datagram) error {
	if d.Stream {
		return s.sendStream(d)
	}
	s.mu.Lock()
	c := s.conns[d.Local.Addr().Unmap()]
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("ike: no socket on %s", d.Local.Addr())
	}
	return c.Send(d)
}

// Receive implements engine.Conn.
func (s *switchConn) Receive(ctx context.Context) (engine.Datagram, error) {
	select {
	case d := <-s.recv:
		return d, nil
	case <-ctx.Done():
		return engine.Datagram{}, ctx.Err()
	}
}

// sendESP sends ESP-in-UDP from the NAT-T socket of d.Local, or over the
// TCP stream of the addresses when their traffic belongs to one.
func (s *switchConn) sendESP(d engine.Datagram) error {
	if s.tcp.Carries(d.Local.Addr(), d.Remote.Addr()) {
		return s.tcp.Send(d.Local.Addr(), d.Remote.Addr(), d.Data, false)
	}
	s.mu.Lock()
	c := s.conns[d.Local.Addr().Unmap()]
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("ike: no socket on %s", d.Local.Addr())
	}
	return c.SendESP(d)
}

// nattSocket returns the NAT-T socket of address a, or nil.
func (s *switchConn) nattSocket(a netip.Addr) *net.UDPConn {
	s.mu.Lock()
	c := s.conns[a.Unmap()]
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.NATTSocket(a)
}
