package engine_test

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// Tests of the additional addresses of MOBIKE (RFC 4555 §3.4, §3.6):
// advertised in IKE_AUTH, in UPDATE_SA_ADDRESSES and in an INFORMATIONAL
// when they change; the peer's are tried when the path stops working.

var (
	addrB2 = netip.MustParseAddr("10.0.2.2")
	addrA6 = netip.MustParseAddr("2001:db8::1")
)

// addrSet is an Options.MOBIKEAddrs the test changes.
type addrSet struct {
	mu    sync.Mutex
	addrs []netip.Addr
}

func (s *addrSet) get() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.Addr(nil), s.addrs...)
}

func (s *addrSet) set(a ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs = a
}

// addrPair sets up a MOBIKE IKE SA between A, whose IKE-bound addresses
// are addrsA, and B, whose are addrsB, and returns A's IKE SA.
func addrPair(t *testing.T, addrsA, addrsB *addrSet, path func(netip.Addr) (netip.Addr, bool), authReq, authResp string) (a, b *peer, sa engine.SAState) {
	t.Helper()
	a, b = pairOpts(t, mobike(true), mobike(true),
		func(o *engine.Options) { o.MOBIKEAddrs, o.MOBIKEPath = addrsA.get, path },
		func(o *engine.Options) { o.MOBIKEAddrs = addrsB.get })
	connect(t, a, b, authReq, authResp)
	return a, b, a.e.Snapshot(false)[0]
}

const (
	authMOBIKEAddr     = "IDi IDr AUTH N(INITIAL_CONTACT) N(MOBIKE_SUPPORTED) N(ADDITIONAL_IP4_ADDRESS) SA TSi TSr"
	authMOBIKERespAddr = "IDr AUTH N(MOBIKE_SUPPORTED) N(ADDITIONAL_IP4_ADDRESS) SA TSi TSr"
)

// addrsOf returns the addresses of a message's ADDITIONAL_IP4/6_ADDRESS.
func addrsOf(ps []wire.Payload) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok {
			if a, ok := n.Addr(); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// TestMOBIKEAdditionalAddressesAdvertised: each side's IKE_AUTH message
// carries its IKE-bound addresses of the SA's family other than the SA's
// (the IPv6 one and the SA's own are left out), and so does A's
// UPDATE_SA_ADDRESSES instead of NO_ADDITIONAL_ADDRESSES (§3.4, §3.6).
func TestMOBIKEAdditionalAddressesAdvertised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		as, bs := &addrSet{addrs: []netip.Addr{addrA, addrA2, addrA6}}, &addrSet{addrs: []netip.Addr{addrB, addrB2}}
		a, b := pairOpts(t, mobike(true), mobike(true),
			func(o *engine.Options) { o.MOBIKEAddrs = as.get }, func(o *engine.Options) { o.MOBIKEAddrs = bs.get })
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		deliverInit(t, a, b, false)
		deliverInit(t, b, a, true)
		for _, x := range []struct {
			from, to *peer
			want     netip.Addr
			summary  string
		}{{a, b, addrA2, authMOBIKEAddr}, {b, a, addrB2, authMOBIKERespAddr}} {
			d, _ := x.from.net.Next()
			_, ps := open(t, x.to, d)
			if summary(ps) != x.summary {
				t.Fatalf("IKE_AUTH {%s}, want {%s}", summary(ps), x.summary)
			}
			if got := addrsOf(ps); len(got) != 1 || got[0] != x.want {
				t.Errorf("IKE_AUTH advertises %v, want [%v]", got, x.want)
			}
			inject(x.to, d, nil, x.from)
		}
		uid := a.e.Snapshot(false)[0].UniqueID
		as.set(addrA, addrA2, netip.MustParseAddr("10.0.3.1"))
		if err := a.e.MoveIKE(uid, addrA2); err != nil {
			t.Fatal(err)
		}
		req, _ := a.net.Next()
		_, ps := open(t, b, req)
		want := "N(UPDATE_SA_ADDRESSES) N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(COOKIE2) N(ADDITIONAL_IP4_ADDRESS) N(ADDITIONAL_IP4_ADDRESS)"
		if summary(ps) != want {
			t.Fatalf("update {%s}, want {%s}", summary(ps), want)
		}
		if got := addrsOf(ps); len(got) != 2 || got[0] != addrA || got[1] != netip.MustParseAddr("10.0.3.1") {
			t.Errorf("update advertises %v, want the addresses other than the new one", got)
		}
	})
}

// TestMOBIKEPeerAdditionalAddressTried: A's path stops working and
// routing offers no other local address; A tries the peer's additional
// address it learnt in IKE_AUTH (§3.6: the initiator decides which pair
// is used): the request is retransmitted to it, B answers there, and the
// update moves both sides' IKE and child SAs to it.
func TestMOBIKEPeerAdditionalAddressTried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		same := func(netip.Addr) (netip.Addr, bool) { return addrA, true }
		a, b, _ := addrPair(t, &addrSet{addrs: []netip.Addr{addrA}}, &addrSet{addrs: []netip.Addr{addrB, addrB2}}, same,
			"IDi IDr AUTH N(INITIAL_CONTACT) N(MOBIKE_SUPPORTED) SA TSi TSr", authMOBIKERespAddr)
		child := a.e.Snapshot(false)[0].Children[0]
		if err := a.e.RekeyChild(child.UniqueID); err != nil {
			t.Fatal(err)
		}
		var moved engine.Datagram
		for i := 0; i < 120 && !moved.Local.IsValid(); i++ {
			for _, d := range takeAll(a) {
				if d.Remote.Addr() == addrB2 {
					moved = d
				} // else lost on the dead path
			}
			if !moved.Local.IsValid() {
				time.Sleep(time.Second)
			}
		}
		if !moved.Local.IsValid() {
			t.Fatal("A never tried B's additional address")
		}
		inject(b, moved, nil, a)
		runUntilQuiet(t, a, b)
		wantA, wantB := netip.AddrPortFrom(addrA, engine.PortNATT), netip.AddrPortFrom(addrB2, engine.PortNATT)
		if s := a.e.Snapshot(false)[0]; s.Local != wantA || s.Remote != wantB {
			t.Errorf("A's IKE SA at %v -> %v, want %v -> %v", s.Local, s.Remote, wantA, wantB)
		}
		if s := b.e.Snapshot(false)[0]; s.Local != wantB || s.Remote != wantA {
			t.Errorf("B's IKE SA at %v -> %v, want %v -> %v", s.Local, s.Remote, wantB, wantA)
		}
		for _, c := range b.dp.Children() {
			if c.Local != wantB || c.Remote != wantA {
				t.Errorf("B's child SA %08x at %v -> %v, want %v -> %v", c.InSPI, c.Local, c.Remote, wantB, wantA)
			}
		}
	})
}

// TestMOBIKENoAdditionalAddressesClears: B's set of addresses shrinks to
// the SA's own; AnnounceAddresses sends an INFORMATIONAL with
// NO_ADDITIONAL_ADDRESSES (§3.6), which clears what A knew: when A's
// path then stops working it has no other pair to try and keeps
// retransmitting on the current one.
func TestMOBIKENoAdditionalAddressesClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		same := func(netip.Addr) (netip.Addr, bool) { return addrA, true }
		bs := &addrSet{addrs: []netip.Addr{addrB, addrB2}}
		a, b, _ := addrPair(t, &addrSet{addrs: []netip.Addr{addrA}}, bs, same,
			"IDi IDr AUTH N(INITIAL_CONTACT) N(MOBIKE_SUPPORTED) SA TSi TSr", authMOBIKERespAddr)
		bs.set(addrB)
		if err := b.e.AnnounceAddresses(b.e.Snapshot(false)[0].UniqueID); err != nil {
			t.Fatal(err)
		}
		req, _ := b.net.Next()
		if h, ps := open(t, a, req); h.Exchange != infoX || summary(ps) != "N(NO_ADDITIONAL_ADDRESSES)" {
			t.Fatalf("announcement %v {%s}, want INFORMATIONAL {N(NO_ADDITIONAL_ADDRESSES)}", h.Exchange, summary(ps))
		}
		inject(a, req, nil, b)
		runUntilQuiet(t, a, b)

		child := a.e.Snapshot(false)[0].Children[0]
		if err := a.e.RekeyChild(child.UniqueID); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			for _, d := range takeAll(a) {
				if d.Remote.Addr() != addrB || d.Local.Addr() != addrA {
					t.Fatalf("A sent %v -> %v after B withdrew its other addresses", d.Local, d.Remote)
				}
			}
			time.Sleep(time.Second)
		}
	})
}
