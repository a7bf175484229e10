package engine

import (
	"net/netip"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// IKE over TCP (RFC 9329). The engine sees an IKE SA over TCP as one on
// port 4500 (its messages behind the Non-ESP Marker, RFC 9329 §3.1) whose
// datagrams carry Datagram.Stream; the Conn owns the streams: it connects
// one for a message it must send over TCP and has none for, keeps it
// connected while we are its initiator (the initiator reconnects, the
// responder never connects, §6.2), and closes it when told the last IKE
// SA over it is gone (StreamConn).

// tcpMaxMessage is the largest IKE message one frame holds: the frame's
// Length counts itself and the Non-ESP Marker (RFC 9329 §3).
const tcpMaxMessage = 0xffff - 2 - ipsec.NonESPMarkerLen

// StreamConn is implemented by a Conn that carries IKE over TCP streams:
// ReleaseStream says that no IKE SA uses the stream between the two
// addresses any more, so that it is closed (RFC 9329 §6.2: the stream
// lives with its IKE SA; an IKE SA rekeyed on the stream keeps it).
type StreamConn interface {
	ReleaseStream(local, remote netip.Addr)
}

// streamRequest notes that a request of the peer came over its stream:
// an IKE SA the peer moved to TCP answers and sends there from now on.
func (sa *ikeSA) streamRequest(d Datagram) {
	if !d.Stream || sa.tcp {
		return
	}
	sa.log().Info("the peer moved the IKE SA to TCP")
	sa.tcp, sa.natt, sa.local, sa.remote = true, true, d.Local, d.Remote
	sa.stopKeepalive()
}

// tcpFallback starts the IKE SA again over TCP when its IKE_SA_INIT
// request over UDP went unanswered after every retransmission and the
// VPN's transport is udp-then-tcp (RFC 9329 §5: TCP is the fallback of
// an initiator that cannot reach the peer over UDP). It reports whether
// it did: the UDP attempt is then gone.
func (sa *ikeSA) tcpFallback() bool {
	p := sa.pendingTask()
	if !sa.initiator || sa.tcp || sa.vpn == nil || sa.vpn.Transport != config.TransportUDPThenTCP ||
		p == nil || p.exchange() != wire.ExchangeIKESAInit || sa.state != stateInit {
		return false
	}
	var policies []config.SecurityPolicy
	var hint *Packet
	for _, t := range sa.tasks {
		if a, ok := t.(*authTask); ok {
			policies, hint = a.policies, a.hint
		}
	}
	e, w, v := sa.w.e, sa.w, sa.vpn
	local, remote := sa.local, sa.remote
	sa.log().Info("IKE_SA_INIT over UDP unanswered: trying TCP (RFC 9329)")
	sa.failure = "IKE_SA_INIT over UDP unanswered: retried over TCP"
	e.removeSA(sa)
	e.startIKEVia(w, v, local, remote, true, policies, hint, startVia{tcp: true})
	return true
}

// releaseStream tells the Conn, as sa goes, that the stream of its
// addresses is no longer needed, unless another IKE SA (a rekeyed one)
// still uses it. SAs with the same peer address share sa's worker,
// which is locked.
func (sa *ikeSA) releaseStream() {
	sc, ok := sa.w.e.o.Conn.(StreamConn)
	if !sa.tcp || !ok {
		return
	}
	l, r := sa.local.Addr(), sa.remote.Addr()
	if !sa.w.each(func(o *ikeSA) bool {
		return o == sa || !o.tcp || o.state == stateDeleted || o.local.Addr() != l || o.remote.Addr() != r
	}) {
		return
	}
	sc.ReleaseStream(l, r)
}
