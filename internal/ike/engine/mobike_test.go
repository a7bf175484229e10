package engine_test

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// Tests of MOBIKE (mobike.go, RFC 4555).

const infoX = wire.ExchangeInformational

var addrA2 = netip.MustParseAddr("10.0.1.1")

// mobike sets ike-policy mobike on the only VPN of ike.
func mobike(on bool) func(*generated.SecgwVrf_Vrf_Ike) {
	return withIKE(func(p *ikePolicy) { p.Mobike = ptr(on) })
}

const (
	authMOBIKE     = "IDi IDr AUTH N(INITIAL_CONTACT) N(MOBIKE_SUPPORTED) SA TSi TSr"
	authMOBIKEResp = "IDr AUTH N(MOBIKE_SUPPORTED) SA TSi TSr"
	updateReq      = "N(UPDATE_SA_ADDRESSES) N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(COOKIE2) N(NO_ADDITIONAL_ADDRESSES)"
	updateResp     = "N(COOKIE2) N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP)"
)

// mobikePair sets up an IKE SA between A and B, both with MOBIKE, and
// returns A's IKE SA state.
func mobikePair(t *testing.T) (a, b *peer, sa engine.SAState) {
	t.Helper()
	a, b = pair(t, mobike(true), mobike(true), nil)
	connect(t, a, b, authMOBIKE, authMOBIKEResp)
	sas := a.e.Snapshot(false)
	if len(sas) != 1 || !sas[0].MOBIKE {
		t.Fatalf("A's IKE SAs %+v, want one with MOBIKE", sas)
	}
	if bs := b.e.Snapshot(false); len(bs) != 1 || !bs[0].MOBIKE {
		t.Fatal("B's IKE SA has no MOBIKE")
	}
	return a, b, sas[0]
}

// TestMOBIKENegotiation: MOBIKE_SUPPORTED goes in the IKE_AUTH request
// when the VPN enables it, and in the response only when both sides do
// (RFC 4555 §3.3); the state says whether it was negotiated.
func TestMOBIKENegotiation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { mobikePair(t) })
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, mobike(true), nil, nil)
		connect(t, a, b, authMOBIKE, authOK)
		if a.e.Snapshot(false)[0].MOBIKE || b.e.Snapshot(false)[0].MOBIKE {
			t.Error("MOBIKE negotiated with a responder that does not enable it")
		}
		if err := a.e.MoveIKE(a.e.Snapshot(false)[0].UniqueID, addrA2); !errors.Is(err, engine.ErrNoMOBIKE) {
			t.Errorf("MoveIKE without MOBIKE: %v, want ErrNoMOBIKE", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, mobike(true), nil)
		connect(t, a, b, authIC, authOK)
	})
}

// childAddrs checks that p holds one child SA with SPIs in/out between
// local and remote, and returns it.
func childAddrs(t *testing.T, p *peer, name string, in, out uint32, local, remote netip.AddrPort, encap bool) {
	t.Helper()
	cs := p.dp.Children()
	if len(cs) != 1 {
		t.Fatalf("%s has %d child SAs, want 1", name, len(cs))
	}
	c := cs[0]
	if c.InSPI != in || c.OutSPI != out || c.Local != local || c.Remote != remote || c.Encap != encap {
		t.Errorf("%s child SA: in %08x out %08x %v -> %v encap %v; want in %08x out %08x %v -> %v encap %v",
			name, c.InSPI, c.OutSPI, c.Local, c.Remote, c.Encap, in, out, local, remote, encap)
	}
}

// TestMOBIKEMove: A (the initiator) moves to a new address: the
// INFORMATIONAL request goes from it with UPDATE_SA_ADDRESSES, NAT
// detection over the new addresses and a COOKIE2; B echoes the COOKIE2,
// answers at the new address and moves its child SA; both keep their IKE
// and child SPIs (RFC 4555 §3.5).
func TestMOBIKEMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, sa := mobikePair(t)
		ca, _ := checkChildPair(t, a, b)
		if err := a.e.MoveIKE(sa.UniqueID, addrA2); err != nil {
			t.Fatal(err)
		}
		req, _ := a.net.Next()
		if req.Local != netip.AddrPortFrom(addrA2, engine.PortNATT) || req.Remote != netip.AddrPortFrom(addrB, engine.PortNATT) {
			t.Fatalf("update request %v -> %v, want from the new address to the NAT-T port", req.Local, req.Remote)
		}
		h, ps := open(t, b, req)
		if h.Exchange != infoX || summary(ps) != updateReq {
			t.Fatalf("update request %v {%s}, want INFORMATIONAL {%s}", h.Exchange, summary(ps), updateReq)
		}
		cookie := wire.FindNotify(ps, wire.NotifyCookie2).Data
		inject(b, req, nil, a)
		resp, _ := b.net.Next()
		if resp.Remote != req.Local {
			t.Fatalf("response to %v, want the new address %v", resp.Remote, req.Local)
		}
		_, rps := open(t, a, resp)
		if summary(rps) != updateResp || string(wire.FindNotify(rps, wire.NotifyCookie2).Data) != string(cookie) {
			t.Fatalf("update response {%s}, want {%s} with our COOKIE2", summary(rps), updateResp)
		}
		inject(a, resp, nil, b)
		silent(t, a, b)

		newA, natB := netip.AddrPortFrom(addrA2, engine.PortNATT), netip.AddrPortFrom(addrB, engine.PortNATT)
		childAddrs(t, a, "A", ca.InSPI, ca.OutSPI, newA, natB, false)
		childAddrs(t, b, "B", ca.OutSPI, ca.InSPI, natB, newA, false)
		for _, p := range []*peer{a, b} {
			s := p.e.Snapshot(false)
			if len(s) != 1 || s[0].SPIi != sa.SPIi || s[0].SPIr != sa.SPIr {
				t.Errorf("IKE SAs after the move %+v, want the same SPIs", s)
			}
			if !slices.Contains(p.dp.Log, "move "+hex8(p.dp.Children()[0].InSPI)) {
				t.Errorf("dataplane log %v: the child SA was not moved", p.dp.Log)
			}
		}
		// The SA still works at the new addresses: a liveness check.
		if s := a.e.Snapshot(false)[0]; s.Local != newA || s.Remote != natB {
			t.Errorf("A's IKE SA at %v -> %v, want %v -> %v", s.Local, s.Remote, newA, natB)
		}
		if s := b.e.Snapshot(false)[0]; s.Local != natB || s.Remote != newA {
			t.Errorf("B's IKE SA at %v -> %v, want %v -> %v", s.Local, s.Remote, natB, newA)
		}
	})
}

// TestMOBIKEMoveBehindNAT: A moves to a private address behind a NAT: the
// NAT detection of the update finds it, and both child SAs switch to UDP
// encapsulation towards the NAT's public address and port (RFC 4555 §3.5,
// RFC 7296 §2.23).
func TestMOBIKEMoveBehindNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, sa := mobikePair(t)
		ca, _ := checkChildPair(t, a, b)
		n := &natBox{behind: a, private: addrA2, public: netip.MustParseAddr("192.0.2.9"), shift: 1000}
		if err := a.e.MoveIKE(sa.UniqueID, addrA2); err != nil {
			t.Fatal(err)
		}
		deliverVia(t, a, b, n) // INFORMATIONAL request: UPDATE_SA_ADDRESSES...
		deliverVia(t, b, a, n) // INFORMATIONAL response: COOKIE2, NAT_DETECTION_*
		silent(t, a, b)
		newA, natB := netip.AddrPortFrom(addrA2, engine.PortNATT), netip.AddrPortFrom(addrB, engine.PortNATT)
		pub := netip.AddrPortFrom(n.public, engine.PortNATT+1000)
		childAddrs(t, a, "A", ca.InSPI, ca.OutSPI, newA, natB, true)
		childAddrs(t, b, "B", ca.OutSPI, ca.InSPI, natB, pub, true)
		if !a.e.Snapshot(false)[0].UDPEncap || !b.e.Snapshot(false)[0].UDPEncap {
			t.Error("UDP encapsulation not reported after the move behind a NAT")
		}
	})
}

// TestMOBIKEForgedUpdate: an UPDATE_SA_ADDRESSES that does not
// authenticate under the IKE SA (altered on the way), or a genuine one
// replayed from another address, moves nothing: only a request the IKE
// SA protects updates it (RFC 4555 §5.1, RFC 7296 §2.21).
func TestMOBIKEForgedUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, sa := mobikePair(t)
		_, cb := checkChildPair(t, a, b)
		if err := a.e.MoveIKE(sa.UniqueID, addrA2); err != nil {
			t.Fatal(err)
		}
		req, _ := a.net.Next()
		// Forged: the same message with its last octet (in the ICV)
		// changed, from an attacker's address.
		evil := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.66"), engine.PortNATT)
		bad := slices.Clone(req.Data)
		bad[len(bad)-1] ^= 0xff
		b.e.HandleDatagram(engine.Datagram{Local: req.Remote, Remote: evil, Data: bad})
		if d, ok := b.net.Next(); ok {
			t.Fatalf("B answered a forged update: %v -> %v", d.Local, d.Remote)
		}
		oldB := netip.AddrPortFrom(addrB, 500)
		childAddrs(t, b, "B", cb.InSPI, cb.OutSPI, oldB, netip.AddrPortFrom(addrA, 500), false)

		// The genuine request moves B to A's new address; replayed from
		// the attacker it is a retransmission: the cached response goes
		// back where it came from (RFC 7296 §2.11), and nothing moves.
		inject(b, req, nil, a)
		resp, _ := b.net.Next()
		b.e.HandleDatagram(engine.Datagram{Local: req.Remote, Remote: evil, Data: req.Data})
		if d, ok := b.net.Next(); !ok || string(d.Data) != string(resp.Data) {
			t.Fatal("B did not answer the replay with its cached response")
		}
		natB := netip.AddrPortFrom(addrB, engine.PortNATT)
		childAddrs(t, b, "B", cb.InSPI, cb.OutSPI, natB, netip.AddrPortFrom(addrA2, engine.PortNATT), false)
		inject(a, resp, nil, b)
	})
}

// TestMOBIKECookie2: a response to UPDATE_SA_ADDRESSES without our
// COOKIE2 fails the return routability check (RFC 4555 §3.5): A does not
// move and closes the IKE SA.
func TestMOBIKECookie2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, sa := mobikePair(t)
		if err := a.e.MoveIKE(sa.UniqueID, addrA2); err != nil {
			t.Fatal(err)
		}
		req, _ := a.net.Next()
		_, m := message(t, req)
		bs := b.e.Snapshot(false)[0]
		msgs, err := b.e.EncodeForTest(bs.SPIr, infoX, m.Header.MessageID, true,
			[]wire.Payload{wire.NewNotify(wire.NotifyCookie2, []byte("not-the-cookie2!"))})
		if err != nil {
			t.Fatal(err)
		}
		a.e.HandleDatagram(engine.Datagram{Local: req.Local, Remote: req.Remote, Data: withMarker(req, msgs[0])})
		if n := len(a.e.IKESAs()); n != 0 {
			t.Fatalf("A has %d IKE SAs after a wrong COOKIE2, want 0", n)
		}
	})
}

func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}

// TestMOBIKEAfterResponderRekey: B, the responder, rekeys the IKE SA (it
// initiates the CREATE_CHILD_SA); A stays the side that moves the SA
// (RFC 4555 §3.1: the original initiator decides), and B still accepts
// its updates.
func TestMOBIKEAfterResponderRekey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, _ := mobikePair(t)
		if err := b.e.RekeyIKE(b.e.Snapshot(false)[0].UniqueID); err != nil {
			t.Fatal(err)
		}
		runUntilQuiet(t, a, b)
		as, bs := a.e.Snapshot(false), b.e.Snapshot(false)
		if len(as) != 1 || len(bs) != 1 || as[0].SPIi == 0 || as[0].Initiator || !bs[0].Initiator {
			t.Fatalf("after B's rekey: A %+v, B %+v", as, bs)
		}
		if !as[0].MOBIKE || !as[0].MOBIKEInitiator || bs[0].MOBIKEInitiator {
			t.Fatalf("after B's rekey: A MOBIKE %v initiator %v, B initiator %v; want A to stay the mover",
				as[0].MOBIKE, as[0].MOBIKEInitiator, bs[0].MOBIKEInitiator)
		}
		if err := b.e.MoveIKE(bs[0].UniqueID, addrB); !errors.Is(err, engine.ErrNoMOBIKE) {
			t.Errorf("B moved an IKE SA it does not decide for: %v", err)
		}
		if err := a.e.MoveIKE(as[0].UniqueID, addrA2); err != nil {
			t.Fatal(err)
		}
		runUntilQuiet(t, a, b)
		want := netip.AddrPortFrom(addrA2, engine.PortNATT)
		if s := b.e.Snapshot(false)[0]; s.Remote != want {
			t.Errorf("B's IKE SA at %v -> %v, want the peer at %v", s.Local, s.Remote, want)
		}
		if c := b.dp.Children(); len(c) != 1 || c[0].Remote != want {
			t.Errorf("B's child SAs %+v, want one at %v", c, want)
		}
	})
}

// TestUpdateWithoutMOBIKE: an authenticated UPDATE_SA_ADDRESSES on an IKE
// SA without MOBIKE (B does not enable it), from a new address, is
// answered (its COOKIE2 copied, RFC 4555 §3.5) but moves nothing: the
// IKE SA and the child SA stay at A's old address, and B logs why.
func TestUpdateWithoutMOBIKE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs, withLogs := recordLogs(t)
		a := newPeer(t, vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24"), addrA, nil)
		b := newPeer(t, vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24"), addrB, withLogs)
		connect(t, a, b, authIC, authOK)
		as := a.e.Snapshot(false)[0]
		_, cb := checkChildPair(t, a, b)
		from := netip.AddrPortFrom(addrA2, engine.PortIKE)
		msgs, err := a.e.EncodeForTest(as.SPIi, infoX, 2, false, []wire.Payload{
			wire.NewNotify(wire.NotifyUpdateSAAddresses, nil), wire.NewNotify(wire.NotifyCookie2, []byte("0123456789abcdef"))})
		if err != nil {
			t.Fatal(err)
		}
		d := engine.Datagram{Local: from, Remote: netip.AddrPortFrom(addrB, engine.PortIKE), Data: msgs[0]}
		b.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: withMarker(d, msgs[0])})
		resp, ok := b.net.Next()
		if !ok {
			t.Fatal("B did not answer the INFORMATIONAL request")
		}
		if _, ps := open(t, a, resp); summary(ps) != "N(COOKIE2)" {
			t.Errorf("B's answer {%s}, want {N(COOKIE2)}", summary(ps))
		}
		if resp.Remote != netip.AddrPortFrom(addrA, engine.PortIKE) {
			t.Errorf("B answered at %v, want the IKE SA's peer address", resp.Remote)
		}
		childAddrs(t, b, "B", cb.InSPI, cb.OutSPI, netip.AddrPortFrom(addrB, 500), netip.AddrPortFrom(addrA, 500), false)
		if s := b.e.Snapshot(false)[0]; s.Remote != netip.AddrPortFrom(addrA, engine.PortIKE) {
			t.Errorf("B's IKE SA moved to %v without MOBIKE", s.Remote)
		}
		if len(logs.find("ignoring UPDATE_SA_ADDRESSES: MOBIKE not negotiated on this IKE SA or the peer is not its initiator")) != 1 {
			t.Error("B did not log why it ignored the update")
		}
	})
}

// TestMOBIKEPathStopsWorking: a request of A (a child SA rekey) goes
// unanswered on the current path; after its first retransmission A asks
// routing for another local address (Options.MOBIKEPath), retransmits
// from it, and once answered moves the SA there with
// UPDATE_SA_ADDRESSES (the vsr guide: the path changes when the current
// one stops working; RFC 4555 §3.5).
func TestMOBIKEPathStopsWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ikeA := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
		ikeB := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
		mobike(true)(ikeA)
		mobike(true)(ikeB)
		a := newPeer(t, ikeA, addrA, func(o *engine.Options) {
			o.MOBIKEPath = func(netip.Addr) (netip.Addr, bool) { return addrA2, true }
		})
		b := newPeer(t, ikeB, addrB, nil)
		connect(t, a, b, authMOBIKE, authMOBIKEResp)
		child := a.e.Snapshot(false)[0].Children[0]
		if err := a.e.RekeyChild(child.UniqueID); err != nil {
			t.Fatal(err)
		}
		var moved engine.Datagram
		for i := 0; i < 120 && !moved.Local.IsValid(); i++ {
			for _, d := range takeAll(a) {
				if d.Local.Addr() == addrA2 {
					moved = d
				} // else lost on the dead path
			}
			if !moved.Local.IsValid() {
				time.Sleep(time.Second)
			}
		}
		if !moved.Local.IsValid() {
			t.Fatal("A never retransmitted from another address")
		}
		if h, _ := open(t, b, moved); h.Exchange != wire.ExchangeCreateChildSA {
			t.Fatalf("first from the new path: %v, want the CREATE_CHILD_SA retransmitted", h.Exchange)
		}
		inject(b, moved, nil, a)
		runUntilQuiet(t, a, b)
		want := netip.AddrPortFrom(addrA2, engine.PortNATT)
		if s := b.e.Snapshot(false)[0]; s.Remote != want {
			t.Errorf("B's IKE SA at %v, want the peer at %v", s.Remote, want)
		}
		for _, c := range b.dp.Children() {
			if c.Remote != want {
				t.Errorf("B's child SA %08x at %v, want %v", c.InSPI, c.Remote, want)
			}
		}
		for _, c := range a.dp.Children() {
			if c.Local != want {
				t.Errorf("A's child SA %08x at %v, want %v", c.InSPI, c.Local, want)
			}
		}
		if n := len(a.dp.Children()); n != 1 {
			t.Errorf("A has %d child SAs after the rekey, want 1", n)
		}
	})
}
