package vpnmon

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// echoData marks secgw's echoes (Juniper puts its own signature in its
// VPN monitor's).
var echoData = []byte("secgw vpn-monitor")

// ICMP is the Prober over raw ICMP sockets, one per source address: the
// host routes each echo, so that it takes the child SA's XFRM policy
// (kernel dataplane) or the route to the TUN device (userspace
// dataplane) and really crosses the tunnel. Replies to the source are
// read from the same socket and handed to the reply function.
type ICMP struct {
	reply func(id, seq uint16)

	mu     sync.Mutex
	conns  map[netip.Addr]*icmp.PacketConn
	closed bool
}

// NewICMP returns an ICMP prober handing replies to reply (the Monitor's
// Reply).
func NewICMP(reply func(id, seq uint16)) *ICMP {
	return &ICMP{reply: reply, conns: map[netip.Addr]*icmp.PacketConn{}}
}

// Echo implements Prober.
func (p *ICMP) Echo(src, dst netip.Addr, id, seq uint16) error {
	c, err := p.conn(src)
	if err != nil {
		return err
	}
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if src.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(id), Seq: int(seq), Data: echoData}}).Marshal(nil)
	if err != nil {
		return err
	}
	_, err = c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// conn returns the socket of src, opened on first use with its reader.
func (p *ICMP) conn(src netip.Addr) (*icmp.PacketConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("vpnmon: closed")
	}
	if c := p.conns[src]; c != nil {
		return c, nil
	}
	network := "ip4:icmp"
	if src.Is6() {
		network = "ip6:ipv6-icmp"
	}
	c, err := icmp.ListenPacket(network, src.String())
	if err != nil {
		return nil, err
	}
	p.conns[src] = c
	go p.read(c, src.Is6())
	return c, nil
}

// read hands the echo replies arriving on c to the reply function until
// c is closed.
func (p *ICMP) read(c *icmp.PacketConn, v6 bool) {
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
	for a, c := range p.conns {
		c.Close()
		delete(p.conns, a)
	}
	return nil
}
