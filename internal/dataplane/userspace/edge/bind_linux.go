package edge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPBind is a Bind over Linux UDP sockets, one per local address,
// batching with recvmmsg(2) and sendmmsg(2) through the sockets' raw
// connections (no allocation per datagram: golang.org/x/net's batch API
// allocates an address per message).
//
// The sockets may be the IKE engine's own port-4500 sockets: with
// receive false the Bind only sends through them and the engine's reader
// hands ESP to Dataplane.HandleESP. A datagram goes out of the socket
// bound to its Local address, from that socket's port.
type UDPBind struct {
	socks   map[netip.Addr]*udpSock
	receive bool
	pool    sync.Pool // *mmsg
	close   sync.Once
}

type udpSock struct {
	c     *net.UDPConn
	rc    syscall.RawConn
	local netip.AddrPort
	v4    bool
}

// ListenUDP binds a UDP socket on port of each address, in the calling
// thread's network namespace.
func ListenUDP(addrs []netip.Addr, port uint16) ([]*net.UDPConn, error) {
	var out []*net.UDPConn
	for _, a := range addrs {
		network := "udp6"
		if a.Is4() {
			network = "udp4"
		}
		c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, fmt.Errorf("edge: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// NewUDPBind wraps bound UDP sockets. It turns path MTU discovery off on
// them (IP_PMTUDISC_DONT), so that an outer packet above the path MTU is
// fragmented instead of refused (RFC 4301 §8.2: the inner packet was
// allowed to be fragmented or ICMP was sent back already).
func NewUDPBind(conns []*net.UDPConn, receive bool) (*UDPBind, error) {
	b := &UDPBind{socks: map[netip.Addr]*udpSock{}, receive: receive}
	b.pool.New = func() any { return newMmsg(maxBatch) }
	for _, c := range conns {
		local := c.LocalAddr().(*net.UDPAddr).AddrPort()
		local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
		if !local.Addr().IsValid() || local.Addr().IsUnspecified() {
			return nil, errors.New("edge: a UDP socket must be bound to a specific address")
		}
		rc, err := c.SyscallConn()
		if err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
		s := &udpSock{c: c, rc: rc, local: local, v4: local.Addr().Is4()}
		var serr error
		rc.Control(func(fd uintptr) {
			if s.v4 {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT)
			}
		})
		if serr != nil {
			return nil, fmt.Errorf("edge: path MTU discovery off: %w", serr)
		}
		b.socks[local.Addr()] = s
	}
	return b, nil
}

// maxBatch bounds the datagrams of one recvmmsg or sendmmsg call.
const maxBatch = 64

// mmsg is the reusable argument block of one batched syscall.
type mmsg struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	ds    []Datagram
	sock  *udpSock
	n     int
	errno syscall.Errno
	// recvFn and sendFn are the method values given to RawConn, made
	// once so that no closure is allocated per call.
	recvFn, sendFn func(fd uintptr) bool
}

func newMmsg(n int) *mmsg {
	m := &mmsg{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([]unix.RawSockaddrInet6, n)}
	m.recvFn, m.sendFn = m.recv, m.send
	return m
}

func (m *mmsg) recv(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(len(m.ds)), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false // wait on the poller
	}
	m.n, m.errno = int(r), e
	return true
}

func (m *mmsg) send(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(len(m.ds)), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	m.n, m.errno = int(r), e
	return true
}

// prepare points the headers at ds's buffers (and, to send, encodes the
// remote addresses).
func (m *mmsg) prepare(ds []Datagram, sending bool) {
	m.ds = ds
	for i := range ds {
		b := ds[i].Buf
		if sending {
			b = b[:len(b)]
		} else {
			b = b[:cap(b)]
		}
		m.iovs[i].Base = unsafe.SliceData(b)
		m.iovs[i].SetLen(len(b))
		h := &m.hdrs[i].Hdr
		*h = unix.Msghdr{Iov: &m.iovs[i], Iovlen: 1, Name: (*byte)(unsafe.Pointer(&m.names[i])), Namelen: unix.SizeofSockaddrInet6}
		m.hdrs[i].Len = 0
		if sending {
			h.Namelen = putSockaddr(&m.names[i], ds[i].Remote)
		}
	}
}

// putSockaddr encodes a as a sockaddr_in or sockaddr_in6 into sa.
func putSockaddr(sa *unix.RawSockaddrInet6, a netip.AddrPort) uint32 {
	port := a.Port()
	if a.Addr().Is4() {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Addr().As4()}
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.Addr().As16()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6
}

// getSockaddr decodes a received source address.
func getSockaddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := uint16(p[0])<<8 | uint16(p[1])
	if sa.Family == unix.AF_INET {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
}

// ReceiveFuncs implements Bind.
func (b *UDPBind) ReceiveFuncs() []ReceiveFunc {
	if !b.receive {
		return nil
	}
	var out []ReceiveFunc
	for _, s := range b.socks {
		out = append(out, func(ds []Datagram) (int, error) { return b.receiveOn(s, ds) })
	}
	return out
}

func (b *UDPBind) receiveOn(s *udpSock, ds []Datagram) (int, error) {
	if len(ds) > maxBatch {
		ds = ds[:maxBatch]
	}
	m := b.pool.Get().(*mmsg)
	defer b.pool.Put(m)
	m.prepare(ds, false)
	if err := s.rc.Read(m.recvFn); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return 0, ErrClosed
		}
		return 0, fmt.Errorf("edge: recvmmsg: %w", err)
	}
	if m.errno != 0 {
		return 0, fmt.Errorf("edge: recvmmsg: %w", m.errno)
	}
	for i := range m.n {
		ds[i].Buf = ds[i].Buf[:m.hdrs[i].Len]
		ds[i].Local = s.local
		ds[i].Remote = getSockaddr(&m.names[i])
	}
	return m.n, nil
}

// Send implements Bind: runs of datagrams from one local address go out
// in one sendmmsg.
func (b *UDPBind) Send(ds []Datagram) error {
	var errs error
	for len(ds) > 0 {
		run := 1
		for run < len(ds) && run < maxBatch && ds[run].Local.Addr() == ds[0].Local.Addr() {
			run++
		}
		if err := b.sendRun(ds[:run]); err != nil {
			errs = err
		}
		ds = ds[run:]
	}
	return errs
}

func (b *UDPBind) sendRun(ds []Datagram) error {
	s := b.socks[ds[0].Local.Addr()]
	if s == nil {
		return errNoSocket
	}
	m := b.pool.Get().(*mmsg)
	defer b.pool.Put(m)
	for len(ds) > 0 {
		m.prepare(ds, true)
		if err := s.rc.Write(m.sendFn); err != nil {
			return err
		}
		if m.errno != 0 {
			return m.errno
		}
		ds = ds[m.n:]
	}
	return nil
}

// errNoSocket: the SA's local address has no socket in the Bind.
var errNoSocket = errors.New("edge: no UDP socket for the SA's local address")

// Close implements Bind: it closes the sockets if the Bind receives on
// them; shared send-only sockets stay with their owner.
func (b *UDPBind) Close() error {
	var errs []error
	if !b.receive {
		return nil
	}
	b.close.Do(func() {
		for _, s := range b.socks {
			errs = append(errs, s.c.Close())
		}
	})
	return errors.Join(errs...)
}
