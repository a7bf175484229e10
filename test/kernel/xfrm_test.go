//go:build vmtest

package kernel

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/ipsec"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
)

// The test binary stays clear of the configuration (and so of the
// generated YANG code): it builds in seconds from a cold cache. The
// Programmer's translation of child SAs is tested with the Fake in
// internal/dataplane/childsa; here the entries are written out, except in
// move_test.go, which drives the Programmer's MoveChild (it imports the
// engine for its ChildSA type), and takeover_test.go, which runs IKE
// engines over the Programmer (with a configuration written as a
// literal, not resolved from the YANG tree).

// side is one gateway: a network namespace with an outer address on a
// veth to the other side, an inner address on its loopback, and secgw's
// kernel dataplane and Programmer.
type side struct {
	ns           netns.NsHandle
	h            *netlink.Handle
	dp           *xfrm.Dataplane
	rec          *dataplane.Reconciler
	want         dataplane.State
	outer, inner netip.Addr
}

type topo struct {
	v6outer, v6inner bool
	// ifID routes the inner traffic through an XFRM interface with this
	// id instead of the policies' selectors.
	ifID uint32
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// setup builds two gateways A and B.
func setup(t *testing.T, tp topo) (a, b *side) {
	a = &side{ns: netnstest.NewNS(t), outer: addr("192.0.2.1"), inner: addr("10.1.0.1")}
	b = &side{ns: netnstest.NewNS(t), outer: addr("192.0.2.2"), inner: addr("10.2.0.1")}
	bits := 24
	if tp.v6outer {
		a.outer, b.outer, bits = addr("2001:db8::1"), addr("2001:db8::2"), 64
	}
	if tp.v6inner {
		a.inner, b.inner = addr("fd00:1::1"), addr("fd00:2::1")
	}
	netnstest.Veth(t, a.ns, b.ns, "va", "vb", netip.PrefixFrom(a.outer, bits), netip.PrefixFrom(b.outer, bits))
	for _, s := range []*side{a, b} {
		peer := b
		if s == b {
			peer = a
		}
		s.h = netnstest.Handle(t, s.ns)
		netnstest.LoAddr(t, s.h, netip.PrefixFrom(s.inner, s.inner.BitLen()))
		remoteNet := netip.PrefixFrom(peer.inner, 16).Masked()
		if tp.v6inner {
			remoteNet = netip.PrefixFrom(peer.inner, 32).Masked()
		}
		var dev netlink.Link
		var err error
		switch {
		case tp.ifID != 0:
			x := &netlink.Xfrmi{LinkAttrs: netlink.LinkAttrs{Name: "ipsec0"}, Ifid: tp.ifID}
			if err = s.h.LinkAdd(x); err != nil {
				t.Fatalf("xfrm interface: %v", err)
			}
			if dev, err = s.h.LinkByName("ipsec0"); err == nil {
				err = s.h.LinkSetUp(dev)
			}
		case tp.v6inner != tp.v6outer:
			// An inner family other than the outer one has no gateway
			// of its family: route on the link, the tunnel does the rest.
			dev, err = s.h.LinkByName(map[bool]string{true: "va", false: "vb"}[s == a])
		}
		if err != nil {
			t.Fatal(err)
		}
		gw := peer.outer
		if dev != nil {
			gw = netip.Addr{}
		}
		netnstest.Route(t, s.h, remoteNet, gw, s.inner, dev)
		if s.dp, err = xfrm.New(xfrm.Options{NetNS: s.ns, Events: true}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.dp.Close() })
		s.rec = dataplane.NewReconciler(s.dp, nil)
	}
	return a, b
}

// child describes one child SA between A and B.
type child struct {
	encr, integ       ipsec.TransformID
	encrLen, integLen int // key octets, salt included
	esn               bool
	window            uint32
	encap             bool
	mode              dataplane.Mode
	ifID              uint32
	anySel            bool // 0.0.0.0/0 both ways (route-based, with ifID)
	limits            dataplane.Limits
	spi, reqID        uint32
}

var gcm256 = child{encr: ipsec.EncrAESGCM16, encrLen: 36, window: 32}

func keyBytes(seed byte, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed*31 + byte(i)*7 + 1
	}
	return k
}

// entries returns what side s installs for c: SAs in (SPI c.spi+1 to A,
// c.spi+2 to B) and out, and policies out, in and fwd (tunnel mode),
// mirrored on the two sides as two IKE peers would install them.
func (c child) entries(s, peer *side, isA bool) dataplane.State {
	reqID := dataplane.OwnedReqIDs.Min + c.reqID
	toA := dataplane.SA{Src: peer.outer, Dst: s.outer, SPI: c.spi + 1, Mode: c.mode, ReqID: reqID,
		Encr: c.encr, EncrKey: keyBytes(1, c.encrLen), Integ: c.integ, IntegKey: keyBytes(2, c.integLen),
		ESN: c.esn, ReplayWindow: c.window, IfID: c.ifID, Limits: c.limits}
	toB := toA
	toB.SPI, toB.EncrKey, toB.IntegKey = c.spi+2, keyBytes(3, c.encrLen), keyBytes(4, c.integLen)
	in, out := toA, toB
	if !isA {
		in, out = toB, toA
	}
	in.Dir = dataplane.In
	out.Dir, out.Src, out.Dst = dataplane.Out, s.outer, peer.outer
	if c.encap {
		in.Encap, out.Encap = dataplane.Encap{SrcPort: 4500, DstPort: 4500}, dataplane.Encap{SrcPort: 4500, DstPort: 4500}
	}
	local, remote := netip.PrefixFrom(s.inner, 16).Masked(), netip.PrefixFrom(peer.inner, 16).Masked()
	if s.inner.Is6() {
		local, remote = netip.PrefixFrom(s.inner, 32).Masked(), netip.PrefixFrom(peer.inner, 32).Masked()
	}
	tmplOut := dataplane.Template{Src: s.outer, Dst: peer.outer, Mode: c.mode, ReqID: reqID}
	tmplIn := dataplane.Template{Src: peer.outer, Dst: s.outer, Mode: c.mode, ReqID: reqID}
	switch {
	case c.mode == dataplane.Transport:
		local, remote = netip.PrefixFrom(s.outer, s.outer.BitLen()), netip.PrefixFrom(peer.outer, s.outer.BitLen())
		tmplOut, tmplIn = dataplane.Template{Mode: c.mode, ReqID: reqID}, dataplane.Template{Mode: c.mode, ReqID: reqID}
		in.Sel, out.Sel = dataplane.Selector{Src: remote, Dst: local}, dataplane.Selector{Src: local, Dst: remote}
	case c.anySel:
		local, remote = netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("0.0.0.0/0")
	}
	st := dataplane.State{SAs: []dataplane.SA{in, out}}
	st.Policies = append(st.Policies,
		dataplane.Policy{Sel: dataplane.Selector{Src: local, Dst: remote}, Dir: dataplane.Out, IfID: c.ifID, Priority: 100, Action: dataplane.Protect, Tmpl: tmplOut},
		dataplane.Policy{Sel: dataplane.Selector{Src: remote, Dst: local}, Dir: dataplane.In, IfID: c.ifID, Priority: 100, Action: dataplane.Protect, Tmpl: tmplIn})
	if c.mode == dataplane.Tunnel {
		st.Policies = append(st.Policies,
			dataplane.Policy{Sel: dataplane.Selector{Src: remote, Dst: local}, Dir: dataplane.Fwd, IfID: c.ifID, Priority: 100, Action: dataplane.Protect, Tmpl: tmplIn})
	}
	return st
}

// install adds c's entries to both sides' desired state and reconciles.
func install(t *testing.T, a, b *side, c child) {
	t.Helper()
	for _, s := range []*side{a, b} {
		peer := b
		if s == b {
			peer = a
		}
		e := c.entries(s, peer, s == a)
		s.want.SAs = append(s.want.SAs, e.SAs...)
		for _, p := range e.Policies {
			if !hasPolicy(s.want, p.Key()) {
				s.want.Policies = append(s.want.Policies, p)
			}
		}
		rep, err := s.rec.Reconcile(context.Background(), clone(s.want))
		if err != nil {
			t.Fatalf("reconcile: %v %v", err, rep.Changes)
		}
	}
}

func hasPolicy(s dataplane.State, k dataplane.PolicyKey) bool {
	for _, p := range s.Policies {
		if p.Key() == k {
			return true
		}
	}
	return false
}

func clone(s dataplane.State) dataplane.State {
	return dataplane.State{SAs: append([]dataplane.SA(nil), s.SAs...), Policies: append([]dataplane.Policy(nil), s.Policies...)}
}

// outSA and inSA are the keys of A's SAs of c.
func (c child) outSA(b *side) dataplane.SAKey { return dataplane.SAKey{Dst: b.outer, SPI: c.spi + 2} }
func (c child) inSA(a *side) dataplane.SAKey  { return dataplane.SAKey{Dst: a.outer, SPI: c.spi + 1} }

// traffic pings B's inner address from A's and checks that c's ESP SAs
// carried it; then it checks that the kernel holds exactly what was
// wanted (an idle reconcile sends no op: every field, keys, ESN and replay
// window included, lists back equal).
func traffic(t *testing.T, a, b *side, c child, from, to netip.Addr) {
	t.Helper()
	n, err := ping(a.ns, from, to, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("%d of 4 echo replies from %s to %s", n, from, to)
	}
	ctx := context.Background()
	out, err := a.dp.Counters(ctx, c.outSA(b))
	if err != nil {
		t.Fatal(err)
	}
	in, err := a.dp.Counters(ctx, c.inSA(a))
	if err != nil {
		t.Fatal(err)
	}
	if out.Packets < uint64(n) || in.Packets < uint64(n) || out.OSeq < uint64(n) || out.Added.IsZero() {
		t.Errorf("SA counters: out %+v, in %+v after %d replies", out, in, n)
	}
	if in.AuthDrops != 0 || in.ReplayDrops != 0 {
		t.Errorf("inbound drops: %+v", in)
	}
	for name, s := range map[string]*side{"A": a, "B": b} {
		rep, err := s.rec.Reconcile(ctx, clone(s.want))
		if err != nil || rep.Ops != 0 {
			t.Errorf("%s: idle reconcile: %d ops %v %v", name, rep.Ops, rep.Changes, err)
		}
	}
	t.Logf("%d/4 echo replies, out SA %d packets %d bytes", n, out.Packets, out.Bytes)
}

func TestSuites(t *testing.T) {
	cbc := child{encr: ipsec.EncrAESCBC, encrLen: 32, window: 32}
	suites := map[string]child{
		"aes-gcm-16-256":     gcm256,
		"aes-gcm-16-128":     {encr: ipsec.EncrAESGCM16, encrLen: 20, window: 32},
		"aes-gcm-8-128":      {encr: ipsec.EncrAESGCM8, encrLen: 20, window: 32},
		"aes-cbc-256-sha256": with(cbc, func(c *child) { c.integ, c.integLen = ipsec.IntegHMACSHA2_256_128, 32 }),
		"aes-cbc-128-sha1":   with(cbc, func(c *child) { c.encrLen, c.integ, c.integLen = 16, ipsec.IntegHMACSHA1_96, 20 }),
		"aes-cbc-256-sha384": with(cbc, func(c *child) { c.integ, c.integLen = ipsec.IntegHMACSHA2_384_192, 48 }),
		"aes-cbc-256-sha512": with(cbc, func(c *child) { c.integ, c.integLen = ipsec.IntegHMACSHA2_512_256, 64 }),
		"chacha20-poly1305":  {encr: ipsec.EncrChaCha20Poly1305, encrLen: 36, window: 32},
		"aes-ctr-256-sha256": {encr: ipsec.EncrAESCTR, encrLen: 36, integ: ipsec.IntegHMACSHA2_256_128, integLen: 32, window: 32},
	}
	for name, c := range suites {
		t.Run(name, func(t *testing.T) {
			a, b := setup(t, topo{})
			c.spi = 0x1000
			install(t, a, b, c)
			traffic(t, a, b, c, a.inner, b.inner)
		})
	}
}

func with(c child, f func(*child)) child {
	f(&c)
	return c
}

// TestESN4096: extended sequence numbers (RFC 4304) with the largest
// window, with CBC+HMAC (authencesn) and GCM.
func TestESN4096(t *testing.T) {
	for name, c := range map[string]child{
		"aes-cbc-256-sha256": {encr: ipsec.EncrAESCBC, encrLen: 32, integ: ipsec.IntegHMACSHA2_256_128, integLen: 32},
		"aes-gcm-16-256":     gcm256,
	} {
		t.Run(name, func(t *testing.T) {
			a, b := setup(t, topo{})
			c.esn, c.window, c.spi = true, 4096, 0x2000
			install(t, a, b, c)
			traffic(t, a, b, c, a.inner, b.inner)
			s, _ := a.dp.List(context.Background())
			for _, sa := range s.SAs {
				if !sa.ESN || sa.ReplayWindow != 4096 {
					t.Errorf("kernel SA %s", sa.String())
				}
			}
		})
	}
}

// TestUDPEncap: ESP in UDP (RFC 3948) on port 4500; the receiving side
// needs a socket with UDP_ENCAP_ESPINUDP on its port.
func TestUDPEncap(t *testing.T) {
	a, b := setup(t, topo{})
	for _, s := range []*side{a, b} {
		var c *net.UDPConn
		err := netnsutil.Run(s.ns, func() (err error) {
			c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IP(s.outer.AsSlice()), Port: 4500})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := xfrm.EnableESPInUDP(c); err != nil {
			t.Fatal(err)
		}
	}
	c := with(gcm256, func(c *child) { c.encap, c.spi = true, 0x3000 })
	install(t, a, b, c)
	traffic(t, a, b, c, a.inner, b.inner)
	s, _ := a.dp.List(context.Background())
	for _, sa := range s.SAs {
		if sa.Encap != (dataplane.Encap{SrcPort: 4500, DstPort: 4500}) {
			t.Errorf("kernel SA %s", sa.String())
		}
	}
}

// TestXFRMInterface: route-based IPsec (SVTI): 0.0.0.0/0 selectors bound
// to an XFRM interface by if_id (svti-id-in/-out); traffic enters the
// tunnel by a route through the interface.
func TestXFRMInterface(t *testing.T) {
	a, b := setup(t, topo{ifID: 7})
	c := with(gcm256, func(c *child) { c.ifID, c.anySel, c.spi = 7, true, 0x4000 })
	install(t, a, b, c)
	traffic(t, a, b, c, a.inner, b.inner)
}

// TestTransportMode: host-to-host ESP between the outer addresses.
func TestTransportMode(t *testing.T) {
	a, b := setup(t, topo{})
	c := with(gcm256, func(c *child) { c.mode, c.spi = dataplane.Transport, 0x5000 })
	install(t, a, b, c)
	traffic(t, a, b, c, a.outer, b.outer)
}

// TestIPv6: IPv6 inner traffic over IPv4, IPv4 over IPv6, IPv6 over IPv6.
func TestIPv6(t *testing.T) {
	for name, tp := range map[string]topo{"v6-in-v4": {v6inner: true}, "v4-in-v6": {v6outer: true}, "v6-in-v6": {v6inner: true, v6outer: true}} {
		t.Run(name, func(t *testing.T) {
			a, b := setup(t, tp)
			c := with(gcm256, func(c *child) { c.spi = 0x6000 })
			install(t, a, b, c)
			traffic(t, a, b, c, a.inner, b.inner)
		})
	}
}

// TestProbeESP: the daemon's choice of dataplane says ESP is here.
func TestProbeESP(t *testing.T) {
	if err := xfrm.ProbeESP(); err != nil {
		t.Fatal(err)
	}
}

// TestAllocSPI: the inbound SPI reserved by XFRM_MSG_ALLOCSPI becomes the
// SA's (the add replaces the kernel's placeholder).
func TestAllocSPI(t *testing.T) {
	a, b := setup(t, topo{})
	spi, err := a.dp.AllocSPI(context.Background(), b.outer, a.outer, dataplane.OwnedReqIDs.Min)
	if err != nil {
		t.Fatal(err)
	}
	c := with(gcm256, func(c *child) { c.spi = spi - 1 }) // A's inbound SPI is spi+1
	install(t, a, b, c)
	traffic(t, a, b, c, a.inner, b.inner)
}

// TestRekey: a second child with the same selectors and reqid shares the
// policies (the Programmer's reqid rule); the kernel sends on the newer
// outbound SA; removing the old child's SAs leaves traffic flowing.
func TestRekey(t *testing.T) {
	a, b := setup(t, topo{})
	old := with(gcm256, func(c *child) { c.spi = 0x7000 })
	install(t, a, b, old)
	traffic(t, a, b, old, a.inner, b.inner)
	rekeyed := with(gcm256, func(c *child) { c.spi = 0x7100 })
	install(t, a, b, rekeyed)
	for _, s := range []*side{a, b} {
		s.want.SAs = s.want.SAs[2:] // the old child's SAs
		if rep, err := s.rec.Reconcile(context.Background(), clone(s.want)); err != nil || rep.Ops != 2 {
			t.Fatalf("old child removal: %d ops %v", rep.Ops, err)
		}
	}
	traffic(t, a, b, rekeyed, a.inner, b.inner)
	s, _ := a.dp.List(context.Background())
	if len(s.SAs) != 2 || len(s.Policies) != 3 {
		t.Errorf("after the old child's removal: %d SAs, %d policies", len(s.SAs), len(s.Policies))
	}
}

// TestExpire: soft lifetimes by packets and by time raise SoftExpire for
// the owned SAs (XFRM_MSG_EXPIRE on the multicast group).
func TestExpire(t *testing.T) {
	a, b := setup(t, topo{})
	c := with(gcm256, func(c *child) { c.spi, c.limits = 0x8000, dataplane.Limits{SoftPackets: 2} })
	install(t, a, b, c)
	if n, err := ping(a.ns, a.inner, b.inner, 3); err != nil || n < 2 {
		t.Fatalf("%d replies, %v", n, err)
	}
	want := map[dataplane.SAKey]bool{c.outSA(b): true, c.inSA(a): true}
	deadline := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case ev := <-a.dp.Events():
			if ev.Kind != dataplane.SoftExpire || ev.Reason != "packets" || !want[ev.SA] {
				t.Fatalf("event %+v", ev)
			}
			delete(want, ev.SA)
		case <-deadline:
			t.Fatalf("no soft expiry for %v", want)
		}
	}
	// By time: an SA whose soft lifetime is one second; the hard one
	// removes it two seconds later.
	timed := dataplane.SA{Src: b.outer, Dst: a.outer, SPI: 0x8100, ReqID: dataplane.OwnedReqIDs.Min + 9, Encr: ipsec.EncrAESGCM16,
		EncrKey: keyBytes(9, 36), Limits: dataplane.Limits{SoftAdd: time.Second, HardAdd: 3 * time.Second}}
	if err := a.dp.Apply(context.Background(), []dataplane.Op{{Kind: dataplane.AddSA, SA: &timed}}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []dataplane.EventKind{dataplane.SoftExpire, dataplane.HardExpire} {
		select {
		case ev := <-a.dp.Events():
			if ev.Kind != kind || ev.Reason != "time" || ev.SA != timed.Key() {
				t.Errorf("event %+v, want %s by time of %s", ev, kind, timed.Key())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no %s by time", kind)
		}
	}
	if _, err := a.dp.Counters(context.Background(), timed.Key()); err == nil {
		t.Error("the SA is still there after its hard expiry")
	}
}
