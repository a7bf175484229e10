package edge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPBind is a Bind over Linux UDP sockets, one per local address,
// batching with recvmmsg(2) and sendmmsg(2) through the sockets' raw
// connections (no allocation per datagram: golang.org/x/net's batch API
// allocates an address per message).
//
// Send hands runs of equal-sized datagrams to one remote address to the
// kernel as one message with UDP_SEGMENT (UDP GSO, udp(7)): the stack
// carries the run as one packet as far as it can (through veth and
// loopback to the receiving socket, or to the device that segments it),
// which costs far less than a datagram at a time. A receiver that enables
// UDP_GRO (EnableGRO) takes such a run in one piece.
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
	gro   bool        // UDP_GRO is on: a message may hold a run
	noGSO atomic.Bool // the kernel refused UDP_SEGMENT: plain sends
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

// GSO bounds (udp(7), net/ipv4/udp.c): at most maxGSOSegments datagrams
// per UDP_SEGMENT message (the kernel's UDP_MAX_SEGMENTS is 64 in older
// kernels, 128 since 6.x), and the whole run must fit one IPv4 packet.
const (
	maxGSOSegments = 64
	maxGSOBytes    = 65535 - 20 - 8
)

// ctrlLen is the control buffer of one message: one cmsg with an int
// (UDP_GRO received, UDP_SEGMENT sent as a uint16).
var ctrlLen = unix.CmsgSpace(4)

// mmsg is the reusable argument block of one batched syscall.
type mmsg struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	ctrl  []byte                  // ctrlLen per message
	first []int                   // to send: the first datagram of each message
	ds    []Datagram
	nmsg  int // messages prepared
	sock  *udpSock
	n     int
	errno syscall.Errno
	// recvFn and sendFn are the method values given to RawConn, made
	// once so that no closure is allocated per call.
	recvFn, sendFn func(fd uintptr) bool
}

func newMmsg(n int) *mmsg {
	m := &mmsg{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([]unix.RawSockaddrInet6, n),
		ctrl: make([]byte, n*ctrlLen), first: make([]int, n+1)}
	m.recvFn, m.sendFn = m.recv, m.send
	return m
}

func (m *mmsg) recv(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(m.nmsg), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false // wait on the poller
	}
	m.n, m.errno = int(r), e
	return true
}

func (m *mmsg) send(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(m.nmsg), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	m.n, m.errno = int(r), e
	return true
}

// prepareRecv points one header at each of ds's buffers, with a control
// buffer when UDP_GRO is on.
func (m *mmsg) prepareRecv(ds []Datagram, gro bool) {
	m.ds, m.nmsg = ds, len(ds)
	for i := range ds {
		b := ds[i].Buf[:cap(ds[i].Buf)]
		m.iovs[i].Base = unsafe.SliceData(b)
		m.iovs[i].SetLen(len(b))
		h := &m.hdrs[i].Hdr
		*h = unix.Msghdr{Iov: &m.iovs[i], Iovlen: 1, Name: (*byte)(unsafe.Pointer(&m.names[i])), Namelen: unix.SizeofSockaddrInet6}
		if gro {
			h.Control = &m.ctrl[i*ctrlLen]
			h.SetControllen(ctrlLen)
		}
		m.hdrs[i].Len = 0
	}
}

// prepareSend encodes ds as messages: with gso, each run of datagrams to
// one remote address whose sizes are equal, but for a shorter last one,
// is one message of several iovecs with a UDP_SEGMENT cmsg (udp(7));
// otherwise a message per datagram.
func (m *mmsg) prepareSend(ds []Datagram, gso bool) {
	m.ds, m.nmsg = ds, 0
	for i := 0; i < len(ds); {
		seg := len(ds[i].Buf)
		j, total := i+1, seg
		for gso && j < len(ds) && j-i < maxGSOSegments && ds[j].Remote == ds[i].Remote &&
			len(ds[j].Buf) <= seg && total+len(ds[j].Buf) <= maxGSOBytes {
			total += len(ds[j].Buf)
			j++
			if len(ds[j-1].Buf) < seg {
				break // a shorter datagram ends the run
			}
		}
		for k := i; k < j; k++ {
			m.iovs[k].Base = unsafe.SliceData(ds[k].Buf)
			m.iovs[k].SetLen(len(ds[k].Buf))
		}
		mh := &m.hdrs[m.nmsg]
		h := &mh.Hdr
		*h = unix.Msghdr{Iov: &m.iovs[i], Name: (*byte)(unsafe.Pointer(&m.names[m.nmsg]))}
		h.SetIovlen(j - i)
		h.Namelen = putSockaddr(&m.names[m.nmsg], ds[i].Remote)
		if j-i > 1 {
			c := m.ctrl[m.nmsg*ctrlLen : (m.nmsg+1)*ctrlLen]
			clear(c)
			ch := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
			ch.Level, ch.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			ch.SetLen(unix.CmsgLen(2))
			*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(seg)
			h.Control = &c[0]
			h.SetControllen(unix.CmsgSpace(2))
		}
		mh.Len = 0
		m.first[m.nmsg] = i
		m.nmsg++
		i = j
	}
	m.first[m.nmsg] = len(ds)
}

// groSize returns the segment size that the UDP_GRO cmsg of received
// message i carries, or 0.
func (m *mmsg) groSize(i int) int {
	h := &m.hdrs[i].Hdr
	c := m.ctrl[i*ctrlLen : i*ctrlLen+int(h.Controllen)]
	for len(c) >= unix.CmsgLen(0) {
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		l := int(ch.Len)
		if l < unix.CmsgLen(0) || l > len(c) {
			return 0
		}
		if ch.Level == unix.SOL_UDP && ch.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(*(*int32)(unsafe.Pointer(&c[unix.CmsgLen(0)])))
		}
		sp := unix.CmsgSpace(l - unix.CmsgLen(0))
		if sp > len(c) {
			return 0
		}
		c = c[sp:]
	}
	return 0
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
	m.prepareRecv(ds, s.gro)
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
		ds[i].Seg = 0
		if s.gro {
			if g := m.groSize(i); g > 0 && g < len(ds[i].Buf) {
				ds[i].Seg = g
			}
		}
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
		gso := !s.noGSO.Load()
		m.prepareSend(ds, gso)
		if err := s.rc.Write(m.sendFn); err != nil {
			return err
		}
		if m.errno != 0 {
			run := m.first[1]
			if !gso || run == 1 {
				return m.errno
			}
			// The first message, a GSO run, was refused: EIO when the
			// route's device cannot checksum for GSO (never again on
			// this socket), EINVAL when a segment exceeds the path MTU
			// (it must be fragmented). The run goes out datagram by
			// datagram.
			if m.errno == unix.EIO || m.errno == unix.ENOPROTOOPT || m.errno == unix.EOPNOTSUPP {
				s.noGSO.Store(true)
			}
			if err := b.sendPlain(s, m, ds[:run]); err != nil {
				return err
			}
			ds = ds[run:]
			continue
		}
		ds = ds[m.first[m.n]:]
	}
	return nil
}

// sendPlain sends ds a datagram per message.
func (b *UDPBind) sendPlain(s *udpSock, m *mmsg, ds []Datagram) error {
	for len(ds) > 0 {
		m.prepareSend(ds, false)
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

// EnableGRO turns UDP_GRO on for the receiving sockets (udp(7)): a
// received message may then hold a run of datagrams of one sender,
// reported in Datagram.Seg. Every buffer given to the ReceiveFuncs must
// then hold 65535 octets, or runs are cut short. Call it before the
// first receive. It returns false for a send-only Bind or if the kernel
// refused (the Bind then receives a datagram per message).
func (b *UDPBind) EnableGRO() bool {
	if !b.receive {
		return false
	}
	ok := true
	for _, s := range b.socks {
		var serr error
		err := s.rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
		})
		if err != nil || serr != nil {
			ok = false
			continue
		}
		s.gro = true
	}
	return ok
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
