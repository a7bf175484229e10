package vpnmon

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// echoData marks secgw's echoes (Juniper puts its own signature in its
// VPN monitor's).
var echoData = []byte("secgw vpn-monitor")

// ICMP is the Prober over raw ICMP sockets, one per source address and
// device: the host routes each echo, so that it takes the child SA's
// XFRM policy (kernel dataplane) or the route to the TUN device
// (userspace dataplane) and really crosses the tunnel. A socket with a
// device is bound to it (SO_BINDTODEVICE): Linux then sends out of that
// device even where no route leads there (it takes the destination as
// on-link), which is how a child SA whose routes wait for datapath
// verification is probed through the TUN device. Replies to the source
// are read from the same socket and handed to the reply function.
type ICMP struct {
	reply func(id, seq uint16)

	mu     sync.Mutex
	conns  map[icmpSocket]*net.IPConn
	closed bool
}

// icmpSocket names one socket of the prober.
type icmpSocket struct {
	src netip.Addr
	dev string
}

// NewICMP returns an ICMP prober handing replies to reply (the Monitor's
// Reply).
func NewICMP(reply func(id, seq uint16)) *ICMP {
	return &ICMP{reply: reply, conns: map[icmpSocket]*net.IPConn{}}
}

// Echo implements Prober.
func (p *ICMP) Echo(src, dst netip.Addr, dev string, id, seq uint16) error {
	c, err := p.conn(icmpSocket{src, dev})
	if err != nil {
		return err
	}
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if src.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	// For ICMPv6 the kernel fills in the checksum of a raw socket of
	// protocol 58 (RFC 3542 §3.1); Marshal without pseudo-header
	// leaves it zero.
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(id), Seq: int(seq), Data: echoData}}).Marshal(nil)
	if err != nil {
		return err
	}
	_, err = c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// conn returns the socket k, opened on first use with its reader.
func (p *ICMP) conn(k icmpSocket) (*net.IPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("vpnmon: closed")
	}
	if c := p.conns[k]; c != nil {
		return c, nil
	}
	network := "ip4:icmp"
	if k.src.Is6() {
		network = "ip6:ipv6-icmp"
	}
	lc := net.ListenConfig{}
	if k.dev != "" {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), k.dev) })
			return errors.Join(err, serr)
		}
	}
	pc, err := lc.ListenPacket(context.Background(), network, k.src.String())
	if err != nil {
		return nil, err
	}
	c := pc.(*net.IPConn)
	p.conns[k] = c
	go p.read(c, k.src.Is6())
	return c, nil
}

// read hands the echo replies arriving on c to the reply function until
// c is closed. An IPv4 raw socket's reads come without the IP header
// (net.IPConn strips it), an IPv6 one's always do.
func (p *ICMP) read(c *net.IPConn, v6 bool) {
	proto, want := 1, icmp.Type(ipv4.ICMPTypeEchoReply)
	if v6 {
		proto, want = 58, ipv6.ICMPTypeEchoReply
	}
	buf := make([]byte, 1500)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != want {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok {
			p.reply(uint16(e.ID), uint16(e.Seq))
		}
	}
}

// Close closes the sockets.
func (p *ICMP) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, c := range p.conns {
		c.Close()
		delete(p.conns, k)
	}
	return nil
}
