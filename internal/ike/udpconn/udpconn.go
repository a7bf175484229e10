// Package udpconn is the engine's real UDP edge: an engine.Conn over the
// IKE sockets of ports 500 and 4500 (RFC 7296 §2, RFC 3948), one pair per
// local address, IPv4 or IPv6. Its in-memory twin is enginetest.Network.
//
// Port 4500 carries three kinds of datagrams (RFC 3948 §2): IKE behind the
// four-zero-octet Non-ESP Marker, ESP (a non-zero SPI first) and the
// one-octet 0xFF NAT-keepalive. The Conn drops keepalives, hands ESP to
// Options.OnESP (the dataplane's hook; dropped without one) and gives IKE
// to the engine.
//
// The Non-ESP Marker is owned by the engine, as the engine.Datagram
// contract states: "On port 4500 Data starts with the Non-ESP Marker". The
// engine strips it on receive (Engine.HandleDatagram) and adds it on send
// (ikeSA.send), so the Conn passes IKE datagrams with their marker intact
// and checks on Send that a datagram for port 4500 carries one; stripping
// it here as well would make the engine classify the IKE header's SPIi as
// an ESP SPI and drop every message.
//
// Ports: the engine speaks in the well-known ports 500 and 4500 (it picks
// the NAT-T socket by port number). Options.PortIKE and PortNATT move the
// sockets elsewhere for tests; the Conn then translates both its own and
// the peer's port numbers, so that two engines whose Conns use the same
// translated ports can talk over loopback as if on 500/4500.
package udpconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"secgw/internal/ipsec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"secgw/internal/edge"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// maxDatagram is the largest UDP payload (65535 - 8 octet UDP header).
const maxDatagram = 65527

// Options configures a Conn.
type Options struct {
	// Addrs are the local addresses to bind, IPv4 or IPv6; each gets a
	// socket on PortIKE and one on PortNATT. Unspecified addresses are
	// refused: the engine must know on which address a datagram arrived
	// (it is the local address of the SA and of its NAT detection hash).
	Addrs []netip.Addr
	// PortIKE and PortNATT are the UDP ports actually bound; 0 means 500
	// and 4500. See the package comment for the translation.
	PortIKE, PortNATT uint16
	// OnESP, if set, receives the ESP-in-UDP datagrams of port 4500
	// (RFC 3948 §2.1), from the Conn's reader goroutines; d.Data is owned
	// by the callee. Without it they are dropped.
	OnESP func(d engine.Datagram)
	// OnESPBorrow, if set, is used instead of OnESP: data is the reader's
	// buffer, valid only during the call, so that no datagram is copied.
	// The port-4500 sockets are then read in batches (recvmmsg), and
	// after the last ESP datagram of a batch the hook is called once more
	// with nil data and zero addresses: the end of the batch, when
	// whatever the callee held back (coalesced TUN writes) must go out.
	OnESPBorrow func(local, remote netip.AddrPort, data []byte)
	// OnNATTSocket, if set, is called with each port-4500 socket once
	// bound, before any read: the kernel dataplane sets
	// UDP_ENCAP_ESPINUDP there (RFC 3948 §2), so that the kernel takes
	// the ESP and passes IKE up. An error closes the Conn.
	OnNATTSocket func(*net.UDPConn) error
	// Queue is the number of received IKE datagrams held for Receive;
	// 0 means 256. A reader blocks while the queue is full.
	Queue int
	// FreeBind binds an address the host does not hold (yet), with
	// IP_FREEBIND / IPV6_FREEBIND (ip(7), ipv6(7)): the sockets receive
	// once the address arrives. An HA standby binds the VRRP virtual
	// address keepalived gives it only at a takeover, without the
	// host-wide net.ipv4.ip_nonlocal_bind sysctl.
	FreeBind bool
	// RecvBuffer, if not 0, is each socket's receive buffer in bytes
	// (SO_RCVBUFFORCE, else as far as net.core.rmem_max allows).
	RecvBuffer int
	// Logger receives drop reasons at debug level; nil discards.
	Logger *slog.Logger
}

// Conn is an engine.Conn over real UDP sockets. Send and Receive may be
// called from several goroutines; Close ends Receive with net.ErrClosed.
type Conn struct {
	o     Options
	log   *slog.Logger
	socks map[netip.AddrPort]*net.UDPConn // by local address and engine (well-known) port
	recv  chan engine.Datagram
	done  chan struct{}
	wg    sync.WaitGroup

	closeOnce sync.Once
}

var _ engine.Conn = (*Conn)(nil)

// Listen binds the sockets of o and starts reading them.
func Listen(o Options) (*Conn, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("udpconn: no local address")
	}
	if o.PortIKE == 0 {
		o.PortIKE = engine.PortIKE
	}
	if o.PortNATT == 0 {
		o.PortNATT = engine.PortNATT
	}
	if o.PortIKE == o.PortNATT {
		return nil, fmt.Errorf("udpconn: IKE and NAT-T ports are both %d", o.PortIKE)
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Conn{
		o:     o,
		log:   o.Logger.With("subsystem", "network"),
		socks: map[netip.AddrPort]*net.UDPConn{},
		recv:  make(chan engine.Datagram, o.Queue),
		done:  make(chan struct{}),
	}
	for _, a := range o.Addrs {
		a = a.Unmap()
		if !a.IsValid() || a.IsUnspecified() {
			c.closeSockets()
			return nil, fmt.Errorf("udpconn: cannot bind %v: a specific address is needed", a)
		}
		for _, p := range [][2]uint16{{engine.PortIKE, o.PortIKE}, {engine.PortNATT, o.PortNATT}} {
			key := netip.AddrPortFrom(a, p[0])
			if c.socks[key] != nil {
				continue
			}
			s, err := listenUDP(a, p[1], o.FreeBind)
			if err != nil {
				c.closeSockets()
				return nil, fmt.Errorf("udpconn: %w", err)
			}
			if o.RecvBuffer > 0 {
				if err := setRecvBuffer(s, o.RecvBuffer); err != nil {
					c.log.Warn("udpconn: receive buffer not set", "addr", a, "err", err)
				}
			}
			if p[0] == engine.PortNATT && o.OnNATTSocket != nil {
				if err := o.OnNATTSocket(s); err != nil {
					s.Close()
					c.closeSockets()
					return nil, fmt.Errorf("udpconn: %w", err)
				}
			}
			c.socks[key] = s
		}
	}
	for key, s := range c.socks {
		c.wg.Add(1)
		if key.Port() == engine.PortNATT && o.OnESPBorrow != nil {
			b, err := edge.NewUDPBind([]*net.UDPConn{s}, true)
			if err != nil {
				c.wg.Done()
				c.closeSockets()
				return nil, fmt.Errorf("udpconn: %w", err)
			}
			// Runs of ESP that a peer sent with UDP GSO arrive whole
			// (the buffers hold maxDatagram); readBatches splits them.
			b.EnableGRO()
			go c.readBatches(key, b.ReceiveFuncs()[0])
			continue
		}
		go c.read(key, s)
	}
	return c, nil
}

// listenUDP binds a UDP socket on a:port, with IP_FREEBIND (or
// IPV6_FREEBIND) when free.
func listenUDP(a netip.Addr, port uint16, free bool) (*net.UDPConn, error) {
	addr := netip.AddrPortFrom(a, port).String()
	if !free {
		return net.ListenUDP(network(a), net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if a.Is4() {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
			}
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("IP_FREEBIND: %w", serr)
		}
		return nil
	}}
	pc, err := lc.ListenPacket(context.Background(), network(a), addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// setRecvBuffer sets s's receive buffer to n bytes: forced when the
// process has CAP_NET_ADMIN, else within rmem_max.
func setRecvBuffer(s *net.UDPConn, n int) error {
	rc, err := s.SyscallConn()
	if err != nil {
		return err
	}
	var forced error
	if err := rc.Control(func(fd uintptr) {
		forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	if forced != nil {
		return s.SetReadBuffer(n)
	}
	return nil
}

func network(a netip.Addr) string {
	if a.Is4() {
		return "udp4"
	}
	return "udp6"
}

// LocalAddrs returns the bound local addresses with their real ports, by
// the engine's view of them (address and port 500 or 4500).
func (c *Conn) LocalAddrs() map[netip.AddrPort]netip.AddrPort {
	out := map[netip.AddrPort]netip.AddrPort{}
	for k, s := range c.socks {
		out[k] = s.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	return out
}

// toEngine maps a real port to the engine's well-known one.
func (c *Conn) toEngine(p uint16) uint16 {
	switch p {
	case c.o.PortIKE:
		return engine.PortIKE
	case c.o.PortNATT:
		return engine.PortNATT
	}
	return p
}

// toReal maps an engine port to the one on the wire.
func (c *Conn) toReal(p uint16) uint16 {
	switch p {
	case engine.PortIKE:
		return c.o.PortIKE
	case engine.PortNATT:
		return c.o.PortNATT
	}
	return p
}

// Send implements engine.Conn: it transmits d.Data from the socket bound
// to d.Local. On port 4500 the data must start with the Non-ESP Marker (the
// engine adds it) or be a NAT-keepalive.
func (c *Conn) Send(d engine.Datagram) error {
	local := netip.AddrPortFrom(d.Local.Addr().Unmap(), d.Local.Port())
	s := c.socks[local]
	if s == nil {
		return fmt.Errorf("udpconn: no socket bound to %v", d.Local)
	}
	if local.Port() == engine.PortNATT {
		if k := ipsec.ClassifyNATT(d.Data); k != ipsec.PacketIKE && k != ipsec.PacketKeepalive {
			return errors.New("udpconn: datagram for port 4500 lacks the Non-ESP Marker")
		}
	}
	remote := netip.AddrPortFrom(d.Remote.Addr().Unmap(), c.toReal(d.Remote.Port()))
	if remote.Addr().Is4() != local.Addr().Is4() {
		return fmt.Errorf("udpconn: cannot send from %v to %v", d.Local, d.Remote)
	}
	_, err := s.WriteToUDPAddrPort(d.Data, remote)
	if err != nil {
		return fmt.Errorf("udpconn: %w", err)
	}
	return nil
}

// SendESP sends an ESP-in-UDP datagram (RFC 3948 §2.1: no Non-ESP
// Marker) from the port-4500 socket of d.Local, for the userspace
// dataplane, which shares the NAT-T socket with IKE. Ports are the
// engine's view, translated as for Send.
func (c *Conn) SendESP(d engine.Datagram) error {
	local := netip.AddrPortFrom(d.Local.Addr().Unmap(), d.Local.Port())
	s := c.socks[local]
	if s == nil || local.Port() != engine.PortNATT {
		return fmt.Errorf("udpconn: no NAT-T socket bound to %v", d.Local)
	}
	if ipsec.ClassifyNATT(d.Data) != ipsec.PacketESP {
		return errors.New("udpconn: not an ESP datagram")
	}
	remote := netip.AddrPortFrom(d.Remote.Addr().Unmap(), c.toReal(d.Remote.Port()))
	if _, err := s.WriteToUDPAddrPort(d.Data, remote); err != nil {
		return fmt.Errorf("udpconn: %w", err)
	}
	return nil
}

// NATTSocket returns the port-4500 socket bound to a, or nil. The
// userspace dataplane sends its ESP through it in batches (sendmmsg);
// it must not read from it or close it: the Conn's reader owns receiving.
func (c *Conn) NATTSocket(a netip.Addr) *net.UDPConn {
	return c.socks[netip.AddrPortFrom(a.Unmap(), engine.PortNATT)]
}

// Receive implements engine.Conn: it returns the next IKE datagram, with
// its Non-ESP Marker on port 4500, or an error once ctx is done or the
// Conn is closed.
func (c *Conn) Receive(ctx context.Context) (engine.Datagram, error) {
	select {
	case d := <-c.recv:
		return d, nil
	case <-ctx.Done():
		return engine.Datagram{}, ctx.Err()
	case <-c.done:
		return engine.Datagram{}, net.ErrClosed
	}
}

// Close closes the sockets and waits for the readers to stop.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeSockets()
	})
	c.wg.Wait()
	return nil
}

func (c *Conn) closeSockets() {
	for _, s := range c.socks {
		s.Close()
	}
}

// read is the reader goroutine of one socket; key is its address with
// the engine's port.
func (c *Conn) read(key netip.AddrPort, s *net.UDPConn) {
	defer c.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := s.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Debug("read failed", "local", key, "err", err)
			continue
		}
		d := engine.Datagram{
			Local:  key,
			Remote: netip.AddrPortFrom(from.Addr().Unmap(), c.toEngine(from.Port())),
			Data:   append([]byte(nil), buf[:n]...),
		}
		if !c.dispatch(d) {
			return
		}
	}
}

// readBatches is the reader of a port-4500 socket with OnESPBorrow: it
// takes batches of datagrams (recvmmsg) and lends ESP to the hook.
func (c *Conn) readBatches(key netip.AddrPort, rf edge.ReceiveFunc) {
	defer c.wg.Done()
	bufs := make([][]byte, readBatch)
	ds := make([]edge.Datagram, readBatch)
	for i := range bufs {
		bufs[i] = make([]byte, maxDatagram)
	}
	for {
		for i := range ds {
			ds[i].Buf = bufs[i]
		}
		n, err := rf(ds)
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			if errors.Is(err, edge.ErrClosed) {
				return
			}
			c.log.Debug("read failed", "local", key, "err", err)
			continue
		}
		lent := false
		for i := range n {
			remote := netip.AddrPortFrom(ds[i].Remote.Addr().Unmap(), c.toEngine(ds[i].Remote.Port()))
			// A GRO run is a sequence of datagrams, each sorted on
			// its own (RFC 3948 §2).
			for one := range ds[i].Datagrams() {
				if ipsec.ClassifyNATT(one) == ipsec.PacketESP {
					c.o.OnESPBorrow(key, remote, one)
					lent = true
					continue
				}
				if lent {
					// What was held goes out before the IKE message.
					c.o.OnESPBorrow(netip.AddrPort{}, netip.AddrPort{}, nil)
					lent = false
				}
				d := engine.Datagram{Local: key, Remote: remote, Data: append([]byte(nil), one...)}
				if !c.dispatch(d) {
					return
				}
			}
		}
		if lent {
			c.o.OnESPBorrow(netip.AddrPort{}, netip.AddrPort{}, nil)
		}
	}
}

// readBatch is the number of datagrams of one recvmmsg.
const readBatch = 32

// dispatch sorts one received datagram (RFC 3948 §2); it returns false
// when the Conn is closing.
func (c *Conn) dispatch(d engine.Datagram) bool {
	if d.Local.Port() == engine.PortNATT {
		switch ipsec.ClassifyNATT(d.Data) {
		case ipsec.PacketKeepalive:
			return true
		case ipsec.PacketESP:
			if c.o.OnESP != nil {
				c.o.OnESP(d)
			} else {
				c.log.Debug("dropping ESP-in-UDP: no dataplane hook", "remote", d.Remote)
			}
			return true
		case ipsec.PacketInvalid:
			c.log.Debug("dropping invalid datagram", "local", d.Local, "remote", d.Remote, "len", len(d.Data))
			return true
		}
	} else if len(d.Data) < wire.HeaderLen {
		c.log.Debug("dropping short datagram", "local", d.Local, "remote", d.Remote, "len", len(d.Data))
		return true
	}
	select {
	case c.recv <- d:
		return true
	case <-c.done:
		return false
	}
}
