package engine_test

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
)

// streamNet is the in-memory network with the StreamConn method: it
// records the streams the engine releases.
type streamNet struct {
	*enginetest.Network
	mu       sync.Mutex
	released []string
}

func (n *streamNet) ReleaseStream(local, remote netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.released = append(n.released, local.String()+"-"+remote.String())
}

func (n *streamNet) releases() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.released...)
}

func withTransport(tr generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) { ike.Vpn["to-b"].IkePolicy.Transport = tr }
}

// deliverStream hands the next datagram of from to to, as the Conn does
// with a frame of the stream (Stream kept), and checks that it went over
// the stream: port 4500 and the Non-ESP Marker (RFC 9329 §3.1).
func deliverStream(t testing.TB, from, to *peer) engine.Datagram {
	t.Helper()
	d := next(t, from)
	if !d.Stream || d.Local.Port() != engine.PortNATT || d.Remote.Port() != engine.PortNATT || !bytes.Equal(d.Data[:4], []byte{0, 0, 0, 0}) {
		t.Fatalf("datagram %v -> %v stream=%v %x..., want one over the stream behind the Non-ESP Marker", d.Local, d.Remote, d.Stream, d.Data[:4])
	}
	to.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data, Stream: true})
	return d
}

// TestTCPTransport: with transport tcp the initiator sends IKE_SA_INIT
// over the stream from the first message; the responder answers over the
// stream the request came on; the child SA is set up. When the IKE SA is
// deleted, both engines release the stream (RFC 9329 §6.2).
func TestTCPTransport(t *testing.T) {
	a, b := pair(t, withTransport(generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_tcp), nil, nil)
	sn := &streamNet{Network: b.net}
	b = newPeer(t, vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24"),
		addrB, func(o *engine.Options) { o.Conn = sn })
	b.net = sn.Network
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliverStream(t, a, b) // IKE_SA_INIT request: SA, KE, Ni, N(NAT_DETECTION_*)
	deliverStream(t, b, a) // IKE_SA_INIT response
	deliverStream(t, a, b) // IKE_AUTH request: SK{IDi, IDr, AUTH, SA, TSi, TSr}
	deliverStream(t, b, a) // IKE_AUTH response
	checkChildPair(t, a, b)
	uid, _ := onlySA(t, b)
	if err := b.e.DeleteIKE(uid); err != nil {
		t.Fatal(err)
	}
	deliverStream(t, b, a) // INFORMATIONAL request: SK{D(IKE)}
	deliverStream(t, a, b) // INFORMATIONAL response
	if got := sn.releases(); len(got) != 1 || got[0] != "10.0.0.2-10.0.0.1" {
		t.Fatalf("released streams %v, want 10.0.0.2-10.0.0.1", got)
	}
}

// TestTCPFallback: with transport udp-then-tcp, an IKE_SA_INIT over UDP
// that every retransmission leaves unanswered (UDP blocked) is followed by
// a new IKE SA over TCP (RFC 9329 §5), which comes up.
func TestTCPFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, withTransport(generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp_then_tcp), nil, nil)
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		first := next(t, a)
		if first.Stream || first.Remote.Port() != engine.PortIKE {
			t.Fatalf("first IKE_SA_INIT %v -> %v stream=%v, want UDP port 500", first.Local, first.Remote, first.Stream)
		}
		// The default schedule: 5 retransmissions, 165 s in all.
		var udp int
		for range 200 {
			for _, d := range advance(a, time.Second) {
				if d.Stream {
					t.Fatalf("TCP before the UDP retransmissions ended (%d)", udp)
				}
				udp++
			}
			if a.net.Len() > 0 || udp == 5 {
				break
			}
		}
		if udp != 5 {
			t.Fatalf("%d retransmissions over UDP, want 5", udp)
		}
		var tcp []engine.Datagram
		for range 120 { // the last wait is 75.6 s

			if tcp = advance(a, time.Second); len(tcp) > 0 {
				break
			}
		}
		if len(tcp) != 1 || !tcp[0].Stream {
			t.Fatalf("after the UDP attempt: %d datagrams, want one IKE_SA_INIT over TCP", len(tcp))
		}
		b.e.HandleDatagram(engine.Datagram{Local: tcp[0].Remote, Remote: tcp[0].Local, Data: tcp[0].Data, Stream: true})
		deliverStream(t, b, a) // IKE_SA_INIT response
		deliverStream(t, a, b) // IKE_AUTH request
		deliverStream(t, b, a) // IKE_AUTH response
		checkChildPair(t, a, b)
	})
}

// TestTCPNoKeepalive: an IKE SA over TCP sends no one-octet NAT-keepalive
// (it is no frame, RFC 9329 §3), even though the responder sees the
// initiator's TCP port in the NAT detection and takes it for a NAT.
func TestTCPNoKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, withTransport(generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_tcp), nil, nil)
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			from, to := a, b
			if i%2 == 1 {
				from, to = b, a
			}
			deliverStream(t, from, to)
		}
		for _, p := range []*peer{a, b} {
			for _, d := range advance(p, 2*time.Minute) {
				if len(d.Data) == 1 {
					t.Fatal("a NAT-keepalive over TCP")
				}
			}
		}
	})
}
