package engine_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
	"secgw/internal/poll"
)

// Redirect (RFC 5685) between three engines: A (10.0.0.1) initiates to
// the gateway B (10.0.0.2), which may send it to the gateway C
// (10.0.0.3); B and C share the identity b.example.

// followRedirects sets follow-redirect on the VPNs of an engine.
func followRedirects(o *engine.Options) {
	for _, v := range o.Config.VPNs {
		v.FollowRedirect = true
	}
}

// redirectTo makes an engine redirect every IKE_SA_INIT to g (draining).
func redirectTo(g netip.Addr) func(*engine.Options) {
	return func(o *engine.Options) {
		o.Config.Global.Redirect = config.Redirect{To: wire.Gateway{Addr: g}, Always: true}
	}
}

func redirectPeers(t *testing.T, optA, optB, optC func(*engine.Options)) (a, b, c *peer) {
	t.Helper()
	a = newPeer(t, vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24"), addrA, optA)
	b = newPeer(t, vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24"), addrB, optB)
	c = newPeer(t, vpnConfig("from-a", addrC, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24"), addrC, optC)
	return a, b, c
}

// route delivers every datagram A sent to the engine of its destination
// and every datagram B and C sent to A, until nothing moves; it returns
// the messages in the order they went, for the checks.
func route(t *testing.T, a, b, c *peer) []*wire.Message {
	t.Helper()
	var out []*wire.Message
	for moved := true; moved; {
		moved = false
		for _, d := range takeAll(a) {
			_, m := message(t, d)
			out = append(out, m)
			to := map[netip.Addr]*peer{addrB: b, addrC: c}[d.Remote.Addr()]
			if to == nil {
				t.Fatalf("A sent to %v", d.Remote)
			}
			to.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
			moved = true
		}
		for _, g := range []*peer{b, c} {
			for _, d := range takeAll(g) {
				_, m := message(t, d)
				out = append(out, m)
				a.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
				moved = true
			}
		}
	}
	return out
}

// initRequests are the IKE_SA_INIT requests among ms.
func initRequests(ms []*wire.Message) []*wire.Message {
	var out []*wire.Message
	for _, m := range ms {
		if m.Header.Exchange == wire.ExchangeIKESAInit && !m.Header.Flags.Response() {
			out = append(out, m)
		}
	}
	return out
}

// checkAtC checks that A's tunnel ended at C: one IKE SA each, a child
// SA pair between them, and nothing left on B.
func checkAtC(t *testing.T, a, b, c *peer) {
	t.Helper()
	if _, info := onlySA(t, a); info.State != "established" {
		t.Fatalf("A's IKE SA is %s", info.State)
	}
	if _, info := onlySA(t, c); info.State != "established" {
		t.Fatalf("C's IKE SA is %s", info.State)
	}
	checkChildPair(t, a, c)
	if n := len(b.e.IKESAs()); n != 0 || len(b.dp.Children()) != 0 {
		t.Fatalf("B keeps %d IKE SAs and %d child SAs", n, len(b.dp.Children()))
	}
}

// checkRedirectedFrom checks the REDIRECTED_FROM of an IKE_SA_INIT request.
func checkRedirectedFrom(t *testing.T, m *wire.Message, from netip.Addr) {
	t.Helper()
	n := wire.FindNotify(m.Payloads, wire.NotifyRedirectedFrom)
	if n == nil {
		t.Fatalf("IKE_SA_INIT to the new gateway without REDIRECTED_FROM: %v", notifies(m.Payloads))
	}
	if g, err := n.RedirectedFrom(); err != nil || g.Addr != from {
		t.Fatalf("REDIRECTED_FROM %v (%v), want %v", g, err, from)
	}
}

// TestRedirectInit: B redirects the IKE_SA_INIT of A, which announced
// REDIRECT_SUPPORTED, to C with N(REDIRECT, C, Ni) and no state; A sets
// up its IKE SA and child SA at C with REDIRECTED_FROM(B).
func TestRedirectInit(t *testing.T) {
	var events []engine.Event
	record := func(o *engine.Options) { o.Events = func(ev engine.Event) { events = append(events, ev) } }
	a, b, c := redirectPeers(t, both(followRedirects, record), redirectTo(addrC), nil)
	uid, err := a.e.InitiateSA("to-b")
	if err != nil {
		t.Fatal(err)
	}
	// IKE_SA_INIT request to B: SA, KE, Ni, N(NAT_*), N(REDIRECT_SUPPORTED)
	d := deliver(t, a, b)
	_, req := message(t, d)
	if wire.FindNotify(req.Payloads, wire.NotifyRedirectSupported) == nil {
		t.Fatalf("no REDIRECT_SUPPORTED in %v", notifies(req.Payloads))
	}
	ni := req.Payloads[2].(*wire.Nonce).Data
	// IKE_SA_INIT response of B: HDR(SPIr=0), N(REDIRECT, C, Ni) only.
	d, _ = b.net.Next()
	_, resp := message(t, d)
	if resp.Header.SPIr != 0 || len(resp.Payloads) != 1 {
		t.Fatalf("redirect response: SPIr %x, payloads %v", resp.Header.SPIr, resp.Payloads)
	}
	g, nonce, err := resp.Payloads[0].(*wire.Notify).Redirect()
	if err != nil || g.Addr != addrC || !bytes.Equal(nonce, ni) {
		t.Fatalf("REDIRECT to %v with nonce %x (%v)", g, nonce, err)
	}
	if n := len(b.e.IKESAs()); n != 0 {
		t.Fatalf("B keeps %d IKE SAs after redirecting", n)
	}
	a.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	// A: IKE_SA_INIT to C with REDIRECTED_FROM(B), then IKE_AUTH.
	ms := route(t, a, b, c)
	reqs := initRequests(ms)
	if len(reqs) != 1 {
		t.Fatalf("%d IKE_SA_INIT requests after the redirect", len(reqs))
	}
	checkRedirectedFrom(t, reqs[0], addrB)
	checkAtC(t, a, b, c)
	// The IKE SA keeps its unique-id at C, and the redirect is no failure.
	if snap := a.e.Snapshot(false); len(snap) != 1 || snap[0].UniqueID != uid {
		t.Errorf("A's IKE SA at C has unique-id %v, want %d", snap, uid)
	}
	for _, ev := range events {
		if ev.Kind == engine.IKEFailed || ev.Kind == engine.IKEDown {
			t.Errorf("event %+v", ev)
		}
	}
	if s := b.e.RedirectStats(); s.Sent != 1 {
		t.Errorf("B sent %d redirects", s.Sent)
	}
	if s := a.e.RedirectStats(); s.Followed != 1 {
		t.Errorf("A followed %d redirects", s.Followed)
	}
}

// TestRedirectNotAnnounced: an initiator without follow-redirect sends no
// REDIRECT_SUPPORTED, and B, configured to redirect, serves it itself.
func TestRedirectNotAnnounced(t *testing.T) {
	a, b, _ := redirectPeers(t, nil, redirectTo(addrC), nil)
	establish(t, a, b)
	checkChildPair(t, a, b)
	if s := b.e.RedirectStats(); s.Sent != 0 {
		t.Fatalf("B sent %d redirects", s.Sent)
	}
}

// forgedRedirect is an IKE_SA_INIT response to the request req carrying
// N(REDIRECT) with data.
func forgedRedirect(t *testing.T, req engine.Datagram, m *wire.Message, data []byte) engine.Datagram {
	t.Helper()
	h := wire.Header{SPIi: m.Header.SPIi, MajorVersion: wire.MajorVersion, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse}
	raw, err := (&wire.Message{Header: h, Payloads: []wire.Payload{wire.NewNotify(wire.NotifyRedirect, data)}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return engine.Datagram{Local: req.Remote, Remote: req.Local, Data: raw}
}

// TestRedirectIgnored: a REDIRECT in an IKE_SA_INIT response is ignored
// — the request stays outstanding and the genuine response completes
// the exchange — when we did not send REDIRECT_SUPPORTED, when its nonce
// is not our Ni, and when it is malformed.
func TestRedirectIgnored(t *testing.T) {
	c4 := []byte{1, 4, 10, 0, 0, 3}
	for _, tc := range []struct {
		name   string
		follow bool
		data   func(ni []byte) []byte
	}{
		{"without REDIRECT_SUPPORTED", false, func(ni []byte) []byte { return append(slices.Clone(c4), ni...) }},
		{"other nonce", true, func(ni []byte) []byte { return append(slices.Clone(c4), bytes.Repeat([]byte{7}, len(ni))...) }},
		{"no nonce", true, func([]byte) []byte { return c4 }},
		{"unknown identity type", true, func(ni []byte) []byte { return append([]byte{9, 4, 10, 0, 0, 3}, ni...) }},
		{"truncated", true, func([]byte) []byte { return []byte{1, 4, 10} }},
		{"FQDN with a NUL", true, func(ni []byte) []byte { return append([]byte{3, 3, 'a', 0, 'b'}, ni...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var optA func(*engine.Options)
			if tc.follow {
				optA = followRedirects
			}
			a, b, _ := redirectPeers(t, optA, nil, nil)
			if err := a.e.Initiate("to-b"); err != nil {
				t.Fatal(err)
			}
			d := deliver(t, a, b) // IKE_SA_INIT request
			_, req := message(t, d)
			ni := req.Payloads[2].(*wire.Nonce).Data
			a.e.HandleDatagram(forgedRedirect(t, d, req, tc.data(ni)))
			if a.net.Len() != 0 {
				t.Fatal("A answered the forged REDIRECT")
			}
			deliver(t, b, a) // the genuine IKE_SA_INIT response
			deliver(t, a, b) // IKE_AUTH request
			deliver(t, b, a) // IKE_AUTH response
			checkChildPair(t, a, b)
			if s := a.e.RedirectStats(); s.Followed != 0 {
				t.Fatalf("A followed %d redirects", s.Followed)
			}
		})
	}
}

// TestRedirectAuth: B redirects in IKE_AUTH the peer its VPN
// authenticated (redirect-to): IDr, AUTH and N(REDIRECT, C) without
// nonce and without child SA; A deletes that IKE SA with one D(IKE) and
// sets up its tunnel at C with REDIRECTED_FROM(B).
func TestRedirectAuth(t *testing.T) {
	toC := func(o *engine.Options) { o.Config.VPNs[0].RedirectTo = &wire.Gateway{Addr: addrC} }
	a, b, c := redirectPeers(t, followRedirects, toC, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request, N(REDIRECT_SUPPORTED)
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request
	if len(b.dp.Children()) != 0 {
		t.Fatal("B installed a child SA for a peer it redirects")
	}
	if s := b.e.RedirectStats(); s.Sent != 1 {
		t.Fatalf("B sent %d redirects", s.Sent)
	}
	deliver(t, b, a) // IKE_AUTH response: SK{IDr, AUTH, N(REDIRECT, C)}
	// A: INFORMATIONAL SK{D(IKE)} to B, once; IKE_SA_INIT to C.
	ms := route(t, a, b, c)
	reqs := initRequests(ms)
	if len(reqs) != 1 {
		t.Fatalf("%d IKE_SA_INIT requests after the redirect", len(reqs))
	}
	checkRedirectedFrom(t, reqs[0], addrB)
	checkAtC(t, a, b, c)
}

// TestRedirectEstablished: the operator redirects an established IKE SA
// (Engine.Redirect): B sends INFORMATIONAL SK{N(REDIRECT, C)}; A answers,
// deletes the IKE SA with B and sets up the tunnel at C.
func TestRedirectEstablished(t *testing.T) {
	a, b, c := redirectPeers(t, followRedirects, nil, nil)
	establish(t, a, b)
	checkChildPair(t, a, b)
	snap := b.e.Snapshot(false)
	if len(snap) != 1 {
		t.Fatalf("B has %d SAs", len(snap))
	}
	if err := b.e.Redirect(snap[0].UniqueID, "not a name"); !errors.Is(err, engine.ErrBadGateway) {
		t.Fatalf("redirect to a bad gateway: %v", err)
	}
	if err := b.e.Redirect(snap[0].UniqueID+100, addrC.String()); !errors.Is(err, engine.ErrNoSA) {
		t.Fatalf("unknown SA: %v", err)
	}
	if err := b.e.Redirect(snap[0].UniqueID, addrC.String()); err != nil {
		t.Fatal(err)
	}
	d := deliver(t, b, a) // INFORMATIONAL request: SK{N(REDIRECT, C)}
	if d.Remote.Addr() != addrA {
		t.Fatalf("redirect sent to %v", d.Remote)
	}
	deliver(t, a, b) // INFORMATIONAL response: SK{}
	deliver(t, a, b) // INFORMATIONAL request: SK{D(IKE)}
	deliver(t, b, a) // INFORMATIONAL response: SK{}
	ms := route(t, a, b, c)
	reqs := initRequests(ms)
	if len(reqs) != 1 {
		t.Fatalf("%d IKE_SA_INIT requests after the redirect", len(reqs))
	}
	checkRedirectedFrom(t, reqs[0], addrB)
	checkAtC(t, a, b, c)
}

// TestRedirectEstablishedUnsupported: a peer that did not announce
// REDIRECT_SUPPORTED is not redirected.
func TestRedirectEstablishedUnsupported(t *testing.T) {
	a, b, _ := redirectPeers(t, nil, nil, nil)
	establish(t, a, b)
	snap := b.e.Snapshot(false)
	if err := b.e.Redirect(snap[0].UniqueID, addrC.String()); !errors.Is(err, engine.ErrRedirectUnsupported) {
		t.Fatalf("got %v", err)
	}
	if b.net.Len() != 0 {
		t.Fatal("B sent something")
	}
}

// TestRedirectLoop: B redirects to C and C back to B; A follows
// max-redirects (2 here) redirects within the period, then the IKE SA
// fails instead of following the third.
func TestRedirectLoop(t *testing.T) {
	limit := func(o *engine.Options) {
		o.Config.Global.Redirect.MaxRedirects = 2
	}
	a, b, c := redirectPeers(t, both(followRedirects, limit), redirectTo(addrC), redirectTo(addrB))
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	ms := route(t, a, b, c)
	if n := len(initRequests(ms)); n != 3 {
		t.Fatalf("%d IKE_SA_INIT requests, want 3 (B, C, B)", n)
	}
	if n := len(a.e.IKESAs()); n != 0 {
		t.Fatalf("A keeps %d IKE SAs", n)
	}
	if s := a.e.RedirectStats(); s.Followed != 2 || s.LoopRefused != 1 {
		t.Fatalf("A: %+v", s)
	}
}

// TestRedirectUnderLoad: with a half-open threshold of 1, B serves the
// first IKE_SA_INIT and redirects the one that comes while that IKE SA
// is half-open.
func TestRedirectUnderLoad(t *testing.T) {
	load := func(o *engine.Options) {
		o.Config.Global.Redirect = config.Redirect{To: wire.Gateway{Addr: addrC}, HalfOpenThreshold: 1}
	}
	a, b, _ := redirectPeers(t, followRedirects, load, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)
	d, _ := b.net.Next()
	if _, m := message(t, d); wire.FindNotify(m.Payloads, wire.NotifyRedirect) != nil {
		t.Fatal("first IKE_SA_INIT redirected")
	}
	if _, err := a.e.InitiateChildless("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)
	d, _ = b.net.Next()
	if _, m := message(t, d); wire.FindNotify(m.Payloads, wire.NotifyRedirect) == nil {
		t.Fatalf("second IKE_SA_INIT not redirected: %v", notifies(m.Payloads))
	}
}

// TestRedirectFQDN: a REDIRECT that names the new gateway by its domain
// name; A resolves it (Options.LookupHost) and goes there.
func TestRedirectFQDN(t *testing.T) {
	byName := func(o *engine.Options) {
		o.Config.Global.Redirect = config.Redirect{To: wire.Gateway{FQDN: "gw-c.example"}, Always: true}
	}
	var asked []string
	lookup := func(o *engine.Options) {
		o.LookupHost = func(_ context.Context, name string) ([]netip.Addr, error) {
			asked = append(asked, name)
			return []netip.Addr{netip.MustParseAddr("2001:db8::3"), addrC}, nil
		}
	}
	a, b, c := redirectPeers(t, both(followRedirects, lookup), byName, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // N(REDIRECT, gw-c.example, Ni)
	poll.Require(t, 5*time.Second, "IKE_SA_INIT to the resolved gateway", func() bool { return a.net.Len() > 0 })
	ms := route(t, a, b, c)
	checkRedirectedFrom(t, initRequests(ms)[0], addrB)
	checkAtC(t, a, b, c)
	if !slices.Equal(asked, []string{"gw-c.example"}) {
		t.Fatalf("looked up %v", asked)
	}
}

// TestRedirectActiveThreshold: with an active threshold of 1, B serves
// the first IKE SA and redirects the IKE_SA_INIT that comes once it is
// established.
func TestRedirectActiveThreshold(t *testing.T) {
	load := func(o *engine.Options) {
		o.Config.Global.Redirect = config.Redirect{To: wire.Gateway{Addr: addrC}, ActiveThreshold: 1}
	}
	a, b, c := redirectPeers(t, followRedirects, load, nil)
	establish(t, a, b)
	checkChildPair(t, a, b)
	if _, err := a.e.InitiateChildless("to-b"); err != nil {
		t.Fatal(err)
	}
	ms := route(t, a, b, c)
	if reqs := initRequests(ms); len(reqs) != 2 {
		t.Fatalf("%d IKE_SA_INIT requests, want 2 (B, then C)", len(reqs))
	} else {
		checkRedirectedFrom(t, reqs[1], addrB)
	}
	if n := len(c.e.IKESAs()); n != 1 {
		t.Fatalf("C has %d IKE SAs", n)
	}
	if s := b.e.RedirectStats(); s.Sent != 1 {
		t.Fatalf("B sent %d redirects", s.Sent)
	}
}

// TestRedirectLoopPeriod: max-redirects counts within loop-period only:
// with one redirect per 100 ms, the second redirect at once is refused,
// the third, after the period, followed.
func TestRedirectLoopPeriod(t *testing.T) {
	limit := func(o *engine.Options) {
		o.Config.Global.Redirect.MaxRedirects = 1
		o.Config.Global.Redirect.LoopPeriod = 100 * time.Millisecond
	}
	a, b, c := redirectPeers(t, both(followRedirects, limit), redirectTo(addrC), nil)
	if _, err := a.e.InitiateChildless("to-b"); err != nil {
		t.Fatal(err)
	}
	route(t, a, b, c)
	if _, err := a.e.InitiateChildless("to-b"); err != nil {
		t.Fatal(err)
	}
	route(t, a, b, c)
	if s := a.e.RedirectStats(); s.Followed != 1 || s.LoopRefused != 1 {
		t.Fatalf("A: %+v", s)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := a.e.InitiateChildless("to-b"); err != nil {
		t.Fatal(err)
	}
	route(t, a, b, c)
	if s := a.e.RedirectStats(); s.Followed != 2 || s.LoopRefused != 1 {
		t.Fatalf("A after the period: %+v", s)
	}
	if n := len(c.e.IKESAs()); n != 2 {
		t.Fatalf("C has %d IKE SAs, want 2", n)
	}
}
