package engine_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// The dos-protection knobs, each as the vsr guide defines it ("DoS
// protection"), on a responder B that gets IKE_SA_INIT requests crafted
// like those of a flooder (floodInit) from addresses of our choosing.

type dosProtection = generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection

// withDoS sets dos-protection (and, if f is given, other global-options).
func withDoS(d *dosProtection, f func(*generated.SecgwVrf_Vrf_Ike_GlobalOptions)) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		if ike.GlobalOptions == nil {
			ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{}
		}
		ike.GlobalOptions.DosProtection = d
		if f != nil {
			f(ike.GlobalOptions)
		}
	}
}

// floodInit returns an IKE_SA_INIT request that B would accept: its
// default proposals, a KE of their first group, a nonce and a random
// SPIi. Nothing of it is kept: the sender never completes the exchange.
func floodInit(t testing.TB) []byte {
	t.Helper()
	props := config.DefaultIKEProposals()
	g := proposal.Groups(props[0])[0]
	dh, err := ikecrypto.NewDH(g, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var spi [8]byte
	rand.Read(spi[:])
	ni := make([]byte, 32)
	rand.Read(ni)
	m := &wire.Message{
		Header: wire.Header{SPIi: binary.BigEndian.Uint64(spi[:]) | 1, MajorVersion: wire.MajorVersion,
			Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{&wire.SA{Proposals: props}, &wire.KE{Group: g, Data: dh.PublicKey()}, &wire.Nonce{Data: ni}},
	}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// spoofed is the i-th flooding address, 198.18.0.0/15 (RFC 2544).
func spoofed(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)}), 500)
}

// floodAnswer is what B answered to a flood request: "sa" (an IKE_SA_INIT
// response that created a half-open SA), "cookie", another notify name,
// or "" for none.
func floodAnswer(t testing.TB, b *peer, to netip.AddrPort) string {
	t.Helper()
	got := ""
	for _, d := range takeAll(b) {
		if d.Remote != to {
			t.Fatalf("B sent to %v while answering %v", d.Remote, to)
		}
		_, m := message(t, d)
		switch n, ok := m.Payloads[0].(*wire.Notify); {
		case ok && n.NotifyType == wire.NotifyCookie:
			got = "cookie"
		case ok:
			got = n.NotifyType.String()
		default:
			got = "sa"
		}
	}
	return got
}

// flood sends request i from spoofed(i) (or from from, if valid) to B and
// returns B's answer.
func flood(t testing.TB, b *peer, i int, from netip.AddrPort) string {
	t.Helper()
	if !from.IsValid() {
		from = spoofed(i)
	}
	b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, 500), Remote: from, Data: floodInit(t)})
	return floodAnswer(t, b, from)
}

// responder returns B alone, answering anyone (no remote-address, no
// remote-id) with the dos-protection d.
func responder(t testing.TB, d *dosProtection, f func(*generated.SecgwVrf_Vrf_Ike_GlobalOptions)) *peer {
	ike := anyConfig()
	withDoS(d, f)(ike)
	return newPeer(t, ike, addrB, nil)
}

// anyConfig is B's configuration with one VPN "any" that answers any
// address and identity proving the PSK.
func anyConfig() *generated.SecgwVrf_Vrf_Ike {
	ike := vpnConfig("any", addrB, netip.Addr{}, "b.example", "x", "secret", "192.168.2.0/24", "10.0.0.0/8")
	ike.Vpn["any"].RemoteId = nil
	return ike
}

// TestCookieThreshold: cookie-threshold N lets N half-open IKE SAs in
// without a cookie and answers the next request with a COOKIE (RFC 7296
// §2.6), keeping nothing for it; 0 never asks, "always" asks from the
// first request on.
func TestCookieThreshold(t *testing.T) {
	for _, c := range []struct {
		name      string
		threshold generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection_CookieThreshold_Union
		free      int // requests answered without a cookie before the first COOKIE
	}{
		{"3", generated.UnionUint32(3), 3},
		{"default", nil, config.DefaultCookieThreshold},
		{"always", generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection_CookieThreshold_always, 0},
		{"0", generated.UnionUint32(0), 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := responder(t, &dosProtection{CookieThreshold: c.threshold}, nil)
			for i := range 40 {
				want := "sa"
				if i >= c.free {
					want = "cookie"
				}
				if got := flood(t, b, i, netip.AddrPort{}); got != want {
					t.Fatalf("request %d: answer %q, want %q", i, got, want)
				}
				if st := b.e.DoSStats(); st.HalfOpen != min(i+1, c.free) {
					t.Fatalf("request %d: %d half-open SAs, want %d", i, st.HalfOpen, min(i+1, c.free))
				}
			}
			if st := b.e.DoSStats(); st.Cookies != uint64(40-c.free) || len(b.e.IKESAs()) != c.free {
				t.Fatalf("%+v with %d IKE SAs", st, len(b.e.IKESAs()))
			}
		})
	}
}

// TestCookieLetsRealPeersIn: with cookies demanded, an initiator that
// returns the cookie (RFC 7296 §2.6) gets its IKE SA.
func TestCookieLetsRealPeersIn(t *testing.T) {
	a, b := pair(t, nil, withDoS(&dosProtection{CookieThreshold: generated.UnionUint32(2)}, nil), nil)
	flood(t, b, 1, netip.AddrPort{})
	flood(t, b, 2, netip.AddrPort{})
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	if _, m := message(t, deliver(t, b, a)); m.Payloads[0].(*wire.Notify).NotifyType != wire.NotifyCookie {
		t.Fatal("no cookie demanded at the threshold")
	}
	deliver(t, a, b) // IKE_SA_INIT request with N(COOKIE) first
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request
	deliver(t, b, a) // IKE_AUTH response
	checkChildPair(t, a, b)
	if st := b.e.DoSStats(); st.HalfOpen != 2 || st.Established != 1 || st.Cookies != 1 {
		t.Fatalf("B: %+v", st)
	}
}

// TestBlockThreshold: block-threshold 0 disables the limit: one address
// gets 20 half-open IKE SAs without a cookie. (With a limit, see
// TestBlockThresholdNeedsReturnRoutability.)
func TestBlockThreshold(t *testing.T) {
	peer := netip.MustParseAddrPort("203.0.113.7:500")
	b := responder(t, &dosProtection{CookieThreshold: generated.UnionUint32(0), BlockThreshold: ptr(uint32(0))}, nil)
	for i := range 20 {
		if got := flood(t, b, i, netip.AddrPortFrom(peer.Addr(), uint16(1000+i))); got != "sa" {
			t.Fatalf("block-threshold 0, request %d: %q", i, got)
		}
	}
}

// TestInitLimitHalfOpen: init-limit-half-open 3 refuses a fourth
// half-open IKE SA, whoever sends it, until one goes.
func TestInitLimitHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := responder(t, &dosProtection{CookieThreshold: generated.UnionUint32(0), InitLimitHalfOpen: ptr(uint32(3))}, nil)
		for i := range 3 {
			if got := flood(t, b, i, netip.AddrPort{}); got != "sa" {
				t.Fatalf("request %d: %q", i, got)
			}
		}
		if got := flood(t, b, 3, netip.AddrPort{}); got != "" {
			t.Fatalf("fourth half-open IKE SA: %q", got)
		}
		if st := b.e.DoSStats(); st.HalfOpenLimit != 1 || st.HalfOpen != 3 {
			t.Fatalf("%+v", st)
		}
		// The half-open SAs time out; new ones are accepted again.
		time.Sleep(engine.HalfOpenTimeout)
		synctest.Wait()
		if got := flood(t, b, 4, netip.AddrPort{}); got != "sa" {
			t.Fatalf("after the timeout: %q", got)
		}
	})
}

// TestHalfOpenTimeout: a responder IKE SA not authenticated within
// HalfOpenTimeout is dropped (an IKEFailed event), not a moment before.
func TestHalfOpenTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev events
		b := newPeer(t, anyConfig(), addrB, ev.hook())
		flood(t, b, 1, netip.AddrPort{})
		time.Sleep(engine.HalfOpenTimeout - time.Millisecond)
		synctest.Wait()
		if n := len(b.e.IKESAs()); n != 1 {
			t.Fatalf("%d IKE SAs before the timeout", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if st := b.e.DoSStats(); len(b.e.IKESAs()) != 0 || st.HalfOpen != 0 || st.HalfOpenTimeouts != 1 {
			t.Fatalf("after the timeout: %d IKE SAs, %+v", len(b.e.IKESAs()), st)
		}
		if ev.kinds() != "ike-failed" || ev.list[0].Reason != "half-open timeout" {
			t.Fatalf("events %q %+v", ev.kinds(), ev.list)
		}
	})
}

// manyVPNs is an initiator configuration with n VPNs to B, t000..,
// each with its own identity and selectors.
func manyVPNs(n int, mod func(*generated.SecgwVrf_Vrf_Ike_Vpn)) *generated.SecgwVrf_Vrf_Ike {
	ike := &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{}}
	for i := range n {
		name := fmt.Sprintf("t%03d", i)
		v := vpnConfig(name, addrA, addrB, fmt.Sprintf("a%d.example", i), "b.example", "secret",
			fmt.Sprintf("10.%d.%d.0/24", i>>8, i&255), "192.168.2.0/24").Vpn[name]
		if mod != nil {
			mod(v)
		}
		ike.Vpn[name] = v
	}
	return ike
}

// establishAll sets up the IKE SA of each VPN of a, one at a time (B's
// block-threshold counts A's half-open SAs), and pumps until quiet.
func establishAll(t testing.TB, a, b *peer, names []string) {
	t.Helper()
	for _, name := range names {
		if err := a.e.Initiate(name); err != nil {
			t.Fatal(err)
		}
		pump(t, a, b, nil)
	}
}

// pump delivers every datagram between A and B, in both directions,
// until both are quiet; what B sends elsewhere (to flooders) goes to
// other, if set, else is dropped. It returns the number of INFORMATIONAL
// responses delivered.
func pump(t testing.TB, a, b *peer, other func(engine.Datagram)) (infoResponses int) {
	t.Helper()
	for moved := true; moved; {
		moved = false
		for _, d := range takeAll(a) {
			inject(b, d, nil, a)
			moved = true
		}
		for _, d := range takeAll(b) {
			if d.Remote.Addr() != addrA {
				if other != nil {
					other(d)
				}
				continue
			}
			if h, err := wire.ParseHeader(d.Data); err == nil && h.Exchange == wire.ExchangeInformational && h.Flags.Response() {
				infoResponses++
			}
			inject(a, d, nil, b)
			moved = true
		}
	}
	return infoResponses
}

// TestIKESALimit: ike-sa-limit 2 ignores IKE_SA_INIT requests once two
// IKE SAs are established, and accepts them again when one is gone.
func TestIKESALimit(t *testing.T) {
	a := newPeer(t, manyVPNs(3, nil), addrA, nil)
	b := responder(t, &dosProtection{IkeSaLimit: ptr(uint32(2))}, nil)
	establishAll(t, a, b, []string{"t000", "t001"})
	if got := flood(t, b, 1, netip.AddrPort{}); got != "" {
		t.Fatalf("third connection: answered %q", got)
	}
	if st := b.e.DoSStats(); st.SALimit != 1 || st.Established != 2 {
		t.Fatalf("%+v", st)
	}
	for spi, info := range a.e.IKESAs() {
		if info.VPN == "t000" {
			a.e.DeleteIKE(spi)
		}
	}
	pump(t, a, b, nil)
	establishAll(t, a, b, []string{"t002"})
	if st := b.e.DoSStats(); st.Established != 2 || len(b.dp.Children()) != 2 {
		t.Fatalf("after a delete: %+v, %d child SAs", st, len(b.dp.Children()))
	}
}

// TestCookieThresholdAcrossWorkers: 8 workers admit IKE_SA_INIT requests
// in parallel (400 requests from 400 addresses, from 8 goroutines); still
// exactly cookie-threshold of them create a half-open IKE SA and all the
// others get a COOKIE: admission takes its place among the half-open SAs
// atomically.
func TestCookieThresholdAcrossWorkers(t *testing.T) {
	b := responder(t, &dosProtection{CookieThreshold: generated.UnionUint32(10)},
		func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) { g.Threads = ptr(uint32(8)) })
	reqs := make([][]byte, 400)
	for i := range reqs {
		reqs[i] = floodInit(t)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(reqs); i += 8 {
				b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, 500), Remote: spoofed(i), Data: reqs[i]})
			}
		}()
	}
	wg.Wait()
	got := map[string]int{}
	for _, d := range takeAll(b) {
		_, m := message(t, d)
		if n, ok := m.Payloads[0].(*wire.Notify); ok && n.NotifyType == wire.NotifyCookie {
			got["cookie"]++
		} else {
			got["sa"]++
		}
	}
	if st := b.e.DoSStats(); got["sa"] != 10 || got["cookie"] != 390 || st.HalfOpen != 10 || len(b.e.IKESAs()) != 10 {
		t.Fatalf("answers %v, %+v, %d IKE SAs", got, st, len(b.e.IKESAs()))
	}
}
