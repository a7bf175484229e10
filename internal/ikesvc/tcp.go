package ikesvc

import (
	"fmt"
	"net/netip"

	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/tcpencap"
	"secgw/internal/ipsec"
)

// IKE and ESP over TCP (RFC 9329). One tcpencap.Mux beside the UDP
// sockets holds the streams: the listeners of global-options listen-tcp
// on the bound addresses, and the streams the engine's IKE SAs of
// transport tcp (or udp-then-tcp, after the fallback) connect. The engine
// sees a stream's messages as datagrams on port 4500 marked Stream; the
// userspace dataplane's ESP of those address pairs goes over the stream
// (SendESPStream) and the stream's ESP comes to it as ESP-in-UDP would.

// newMux starts the Mux, listening nowhere until a commit says so.
func (s *Service) newMux() *tcpencap.Mux {
	m, err := tcpencap.Listen(tcpencap.Options{OnIKE: s.onStreamIKE, OnESP: s.onStreamESP, Logger: s.o.Logger})
	if err != nil {
		// Without listeners, Listen cannot fail.
		panic(err)
	}
	return m
}

// onStreamIKE gives the engine an IKE message of a stream, seen as one on
// port 4500 (its Non-ESP Marker kept). It blocks while the engine's
// queue is full: the stream's reader then stops reading (TCP's own
// backpressure).
func (s *Service) onStreamIKE(local, remote netip.Addr, data []byte) {
	s.conn.recv <- engine.Datagram{Local: netip.AddrPortFrom(local, engine.PortNATT),
		Remote: netip.AddrPortFrom(remote, engine.PortNATT), Data: data, Stream: true}
}

// onStreamESP gives the dataplane an ESP packet of a stream as if it had
// come in UDP on port 4500; data is the stream reader's buffer.
func (s *Service) onStreamESP(local, remote netip.Addr, data []byte) {
	l, r := netip.AddrPortFrom(local, engine.PortNATT), netip.AddrPortFrom(remote, engine.PortNATT)
	switch {
	case s.o.OnESPBorrow != nil:
		s.o.OnESPBorrow(l, r, data)
		s.o.OnESPBorrow(netip.AddrPort{}, netip.AddrPort{}, nil) // end of the batch
	case s.o.OnESP != nil:
		s.o.OnESP(engine.Datagram{Local: l, Remote: r, Data: append([]byte(nil), data...)})
	}
}

// applyTCP opens the listeners cfg asks for (listen-tcp on the bound
// addresses, tcp-port) and closes the others; s.mu is held. A listener
// that cannot open is logged, as a UDP socket would be: the address may
// not be configured yet.
func (s *Service) applyTCP(cfg *config.Config) {
	var addrs []netip.Addr
	if cfg.Global.ListenTCP {
		addrs = s.bound
	}
	if err := s.conn.tcp.SetListeners(addrs, cfg.Global.TCPPort); err != nil {
		s.log.Warn("cannot listen for IKE over TCP on every address", "err", err)
	}
}

// supportedTCP refuses TCP encapsulation when the dataplane cannot carry
// ESP over the streams (the kernel's XFRM would need espintcp): in the
// global options, and in the VPNs this commit resolved (fresh).
func (s *Service) supportedTCP(cfg *config.Config, fresh []*config.VPN) error {
	if s.o.TCPStreams {
		return nil
	}
	if cfg.Global.ListenTCP {
		return unsupported(fmt.Sprintf("ike: global-options listen-tcp: ESP over TCP (RFC 9329) needs the userspace dataplane; the %s dataplane cannot carry it", s.o.DataplaneKind))
	}
	for _, v := range fresh {
		if v.Transport != config.TransportUDP {
			return unsupported(fmt.Sprintf("ike: vpn %s ike-policy transport: ESP over TCP (RFC 9329) needs the userspace dataplane; the %s dataplane cannot carry it", v.Name, s.o.DataplaneKind))
		}
	}
	return nil
}

// SendESPStream sends an ESP packet of the userspace dataplane over the
// stream of its addresses when the traffic between them belongs to one
// (an IKE SA over TCP); it reports false when it does not, and the
// packet goes in UDP.
func (s *Service) SendESPStream(local, remote netip.Addr, pkt []byte) (bool, error) {
	if !s.conn.tcp.Carries(local, remote) {
		return false, nil
	}
	return true, s.conn.tcp.Send(local, remote, pkt, false)
}

// sendStream sends an IKE message of the engine over its stream. Only
// the original initiator of the IKE SA (the I flag, RFC 7296 §3.1)
// connects a missing stream: the responder never does (RFC 9329 §6.2).
func (s *switchConn) sendStream(d engine.Datagram) error {
	msg, ok := ipsec.StripNonESPMarker(d.Data)
	if !ok || len(msg) < ikeHeaderLen {
		return fmt.Errorf("ike: not an IKE message for the TCP stream to %v", d.Remote.Addr())
	}
	initiator := msg[ikeFlagsOffset]&ikeFlagInitiator != 0
	if !initiator {
		// The IKE SA answers on the peer's stream: its ESP goes there.
		s.tcp.Claim(d.Local.Addr(), d.Remote.Addr())
	}
	return s.tcp.Send(d.Local.Addr(), d.Remote.Addr(), d.Data, initiator)
}

// The IKE header (RFC 7296 §3.1): 28 octets, the Flags octet at offset
// 19, its I (Initiator) bit 0x08.
const (
	ikeHeaderLen     = 28
	ikeFlagsOffset   = 19
	ikeFlagInitiator = 0x08
)

// ReleaseStream implements engine.StreamConn.
func (s *switchConn) ReleaseStream(local, remote netip.Addr) { s.tcp.Release(local, remote) }
