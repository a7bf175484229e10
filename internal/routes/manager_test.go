package routes_test

import (
	"errors"
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"strings"
	"testing"

	"secgw/internal/ike/config"
	"secgw/internal/routes"
	"secgw/internal/routes/routestest"
)

func ts(start, end string) ipsec.TrafficSelector {
	s, e := netip.MustParseAddr(start), netip.MustParseAddr(end)
	t := ipsec.TrafficSelector{Type: ipsec.TSIPv4AddrRange, StartAddr: s, EndAddr: e, EndPort: 0xffff}
	if s.Is6() {
		t.Type = ipsec.TSIPv6AddrRange
	}
	return t
}

func subnet(p string) ipsec.TrafficSelector {
	pf := netip.MustParsePrefix(p)
	b := pf.Addr().AsSlice()
	for i := pf.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return ts(pf.Addr().String(), last.String())
}

// child is a child SA of vpn to-b (192.0.2.1 -> 192.0.2.2) between
// 10.1.0.0/16 and 10.2.0.0/16 unless changed.
func child(spi uint32, policy string) routes.Child {
	return routes.Child{VPN: "to-b", Policy: policy, InSPI: spi,
		Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		LocalTS: []ipsec.TrafficSelector{subnet("10.1.0.0/16")}, RemoteTS: []ipsec.TrafficSelector{subnet("10.2.0.0/16")}}
}

// host is a gateway: wan 192.0.2.1/24 towards the peer (default route via
// 192.0.2.254), lan 10.1.0.1/24 and 2001:db8:1::1/64, a route of another
// daemon in table 220, and what a previous run of ours left.
func host() *routestest.Fake {
	f := routestest.New()
	f.AddLink("wan", "192.0.2.1/24")
	f.AddLink("lan", "10.1.0.1/24", "2001:db8:1::1/64")
	f.AddLink("secgw0")
	f.AddForeign(routes.Route{Table: 254, Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.254"), Dev: "wan"}, 4)
	f.AddForeign(routes.Route{Table: 220, Dst: netip.MustParsePrefix("172.16.0.0/12"), Dev: "lan"}, 4)
	f.AddForeignRule(routes.Rule{Table: 100, Priority: 100}, 4)
	return f
}

// stale adds what a previous run of ours left: a route and the rules of
// another table.
func stale(f *routestest.Fake) {
	if err := f.AddRoute(routes.Route{Table: 230, Dst: netip.MustParsePrefix("10.7.0.0/16"), Dev: "secgw0"}); err != nil {
		panic(err)
	}
	for _, v6 := range []bool{false, true} {
		if err := f.AddRule(routes.Rule{V6: v6, Table: 230, Priority: 230}); err != nil {
			panic(err)
		}
	}
}

// steps records the host's routing after each step, with the number of
// changes the step made and its error, for a golden file.
type steps struct {
	t   *testing.T
	f   *routestest.Fake
	out strings.Builder
}

func (s *steps) do(name string, fn func() error) {
	s.t.Helper()
	before := s.f.Ops()
	err := fn()
	fmt.Fprintf(&s.out, "### %s\nchanges %d, err %v\n%s", name, s.f.Ops()-before, err, s.f.Render())
}

func TestUserspaceGolden(t *testing.T) {
	f := host()
	stale(f)
	m := routes.New(routes.Options{OS: f, TUN: "secgw0"})
	s := &steps{t: t, f: f}
	s.do("start: what the last run left goes, the rules of table 220 come; foreign entries stay", m.Start)

	c1 := child(0xc1, "net")
	s.do("child 1: its remote selector into the TUN device, src the lan address inside its local selector", func() error { return m.Add(c1) })
	s.do("child 1 added again: nothing", func() error { return m.Add(c1) })
	c1r := child(0xc2, "net")
	s.do("rekey of child 1 (new SPI, same selectors): the route is shared, nothing", func() error { return m.Add(c1r) })
	s.do("old child 1 deleted: the rekeyed one keeps the route", func() error { return m.Remove(c1) })

	c2 := child(0xc3, "wide")
	c2.LocalTS = []ipsec.TrafficSelector{subnet("10.8.0.0/16"), subnet("2001:db8:1::/48")}
	c2.RemoteTS = []ipsec.TrafficSelector{subnet("0.0.0.0/0"), ts("10.9.0.1", "10.9.0.6"), subnet("2001:db8:2::/48")}
	s.do("child 2: 0.0.0.0/0 holds the peer (not routed), a range becomes prefixes without src, IPv6 with the lan's IPv6 src",
		func() error { return m.Add(c2) })

	s.do("routing-table 230, routing-table-prio 300: the routes and the rules move", func() error {
		return m.SetConfig(config.Routes{Table: 230, RulePriority: 300})
	})
	s.do("the same configuration again: nothing", func() error { return m.SetConfig(config.Routes{Table: 230, RulePriority: 300}) })

	f.Drop(230, "10.2.0.0/16")
	s.do("drift (a route deleted by hand): reconcile puts it back", m.Reconcile)
	s.do("idle reconcile: nothing", m.Reconcile)

	s.do("rekeyed child 1 deleted: its route goes", func() error { return m.Remove(c1r) })
	s.do("an unknown child deleted: nothing", func() error { return m.Remove(c1) })
	s.do("close: every route and rule of ours goes", m.Close)
	golden(t, "userspace", s.out.String())
}

func TestKernelGolden(t *testing.T) {
	f := host()
	f.AddLink("svti100")
	f.SetNextHop("192.0.2.2", routes.NextHop{Gateway: netip.MustParseAddr("192.0.2.254"), Dev: "wan"})
	m := routes.New(routes.Options{OS: f})
	s := &steps{t: t, f: f}
	s.do("start, install-routes false: no rule", m.Start)

	c1 := child(0xc1, "net")
	s.do("child 1 without install-routes: no route", func() error { return m.Add(c1) })

	svti := config.PolicyRoutes{SVTI: true}
	cfg := config.Routes{Install: true, Table: 220, RulePriority: 220, Policies: map[config.PolicyRef]config.PolicyRoutes{
		{VPN: "to-b", Policy: "svti"}:      svti,
		{VPN: "to-b", Policy: "inject"}:    {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100"}},
		{VPN: "to-b", Policy: "inject-t"}:  {SVTI: true, Inject: &config.InjectRoutes{Gateway: netip.MustParseAddr("10.1.0.254"), Table: 300}},
		{VPN: "to-b", Policy: "other-vrf"}: {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "trusted"}},
	}}
	s.do("install-routes true: the rules, and child 1's route via the peer's next hop, src in its local selector",
		func() error { return m.SetConfig(cfg) })

	transport := child(0xc2, "transport")
	transport.Mode = config.ModeTransport
	transport.LocalTS, transport.RemoteTS = []ipsec.TrafficSelector{subnet("192.0.2.1/32")}, []ipsec.TrafficSelector{subnet("192.0.2.2/32")}
	s.do("a transport-mode child: no route", func() error { return m.Add(transport) })

	ports := child(0xc3, "ports")
	ports.RemoteTS = []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, IPProtocol: 6, StartPort: 443, EndPort: 443,
		StartAddr: netip.MustParseAddr("10.3.0.0"), EndAddr: netip.MustParseAddr("10.3.255.255")}}
	s.do("a child whose selector has a protocol and port: no route", func() error { return m.Add(ports) })

	nosrc := child(0xc4, "nosrc")
	nosrc.LocalTS = []ipsec.TrafficSelector{subnet("10.99.0.0/16")}
	nosrc.RemoteTS = []ipsec.TrafficSelector{subnet("10.4.0.0/16")}
	s.do("a child without a host address in its local selector: no route", func() error { return m.Add(nosrc) })

	v6 := child(0xc5, "v6")
	v6.LocalTS = []ipsec.TrafficSelector{subnet("2001:db8:1::/48"), subnet("10.1.0.0/24")}
	v6.RemoteTS = []ipsec.TrafficSelector{subnet("2001:db8:5::/48"), subnet("0.0.0.0/0")}
	s.do("IPv6 in the IPv4 tunnel: on the device only; 0.0.0.0/0 holds the peer but takes its path: routed",
		func() error { return m.Add(v6) })

	sv := child(0xc6, "svti")
	sv.RemoteTS = []ipsec.TrafficSelector{subnet("10.6.0.0/16")}
	s.do("an SVTI child without inject-routes: no route", func() error { return m.Add(sv) })

	inj := child(0xc7, "inject")
	inj.RemoteTS = []ipsec.TrafficSelector{subnet("10.7.0.0/16"), subnet("192.0.2.0/24"), subnet("0.0.0.0/0")}
	s.do("inject-routes next-hop svti100: into main, but not the prefixes holding the peer (they would loop)",
		func() error { return m.Add(inj) })

	injT := child(0xc8, "inject-t")
	injT.RemoteTS = []ipsec.TrafficSelector{subnet("10.8.0.0/16"), subnet("0.0.0.0/0"), subnet("2001:db8:8::/48")}
	s.do("inject-routes next-hop 10.1.0.254 table 300: the peer's prefix too (not the main table); not IPv6 via an IPv4 gateway",
		func() error { return m.Add(injT) })

	ov := child(0xc9, "other-vrf")
	ov.RemoteTS = []ipsec.TrafficSelector{subnet("10.9.0.0/16")}
	s.do("inject-routes vrf trusted without the routing of other vrfs (Options.OSOf): no route, an error", func() error { return m.Add(ov) })

	cfg.Install = false
	s.do("install-routes false: its routes and the rules go, injected routes stay", func() error { return m.SetConfig(cfg) })
	s.do("inject child deleted", func() error { return m.Remove(inj) })
	s.do("close", m.Close)
	golden(t, "kernel", s.out.String())
}

// TestForeignRouteConflict: a route of ours whose key a foreign route
// holds is not installed (and the foreign one not replaced); the Manager
// reports it and installs it at the reconcile after the key frees up.
func TestForeignRouteConflict(t *testing.T) {
	f := host()
	m := routes.New(routes.Options{OS: f, TUN: "secgw0"})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	c := child(1, "net")
	c.RemoteTS = []ipsec.TrafficSelector{subnet("172.16.0.0/12"), subnet("10.2.0.0/16")}
	err := m.Add(c)
	if err == nil || !strings.Contains(err.Error(), "172.16.0.0/12") {
		t.Fatalf("Add over a foreign route: err %v, want one naming 172.16.0.0/12", err)
	}
	r := f.Render()
	if !strings.Contains(r, "route 172.16.0.0/12 dev lan table 220 proto static") || !strings.Contains(r, "route 10.2.0.0/16 dev secgw0 src 10.1.0.1 table 220 proto secgw") {
		t.Fatalf("after the conflict:\n%s", r)
	}
	f.Drop(220, "172.16.0.0/12")
	if err := m.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if r := f.Render(); !strings.Contains(r, "route 172.16.0.0/12 dev secgw0 src 10.1.0.1 table 220 proto secgw") {
		t.Fatalf("the reconcile after the key freed up did not install the route:\n%s", r)
	}
}

// TestFailedAddRetried: a route the host refuses is retried by the next
// Reconcile; Installed lists only what is in place.
func TestFailedAddRetried(t *testing.T) {
	f := host()
	m := routes.New(routes.Options{OS: f, TUN: "secgw0"})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	f.Fail = func(op string, r routes.Route) error {
		if op == "add" {
			return boom
		}
		return nil
	}
	if err := m.Add(child(1, "net")); !errors.Is(err, boom) {
		t.Fatalf("Add: %v, want boom", err)
	}
	if got := m.Installed(); len(got) != 0 {
		t.Fatalf("Installed after a failed add: %v", got)
	}
	f.Fail = nil
	if err := m.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if got := m.Installed(); len(got) != 1 || got[0].String() != "10.2.0.0/16 dev secgw0 src 10.1.0.1 table 220" {
		t.Fatalf("Installed after the reconcile: %v", got)
	}
}

// TestSharedKeyTakeover: two child SAs of different VPNs routing the same
// prefix share it; the first one's route is installed and, when it goes,
// the other's replaces it in one change.
func TestSharedKeyTakeover(t *testing.T) {
	f := host()
	f.AddLink("wan2", "198.51.100.1/24")
	f.SetNextHop("192.0.2.2", routes.NextHop{Gateway: netip.MustParseAddr("192.0.2.254"), Dev: "wan"})
	f.SetNextHop("198.51.100.2", routes.NextHop{Dev: "wan2"})
	m := routes.New(routes.Options{OS: f})
	if err := m.SetConfig(config.Routes{Install: true, Table: 220, RulePriority: 220}); err != nil {
		t.Fatal(err)
	}
	a := child(1, "net")
	b := child(2, "net")
	b.VPN, b.Local, b.Remote = "to-c", netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	for _, c := range []routes.Child{a, b} {
		if err := m.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Installed(); len(got) != 1 || got[0].Dev != "wan" {
		t.Fatalf("two children, one prefix: %v", got)
	}
	before := f.Ops()
	if err := m.Remove(a); err != nil {
		t.Fatal(err)
	}
	if got := m.Installed(); len(got) != 1 || got[0].Dev != "wan2" || f.Ops()-before != 1 {
		t.Fatalf("after the first child went: %v in %d changes, want the second's route in 1", got, f.Ops()-before)
	}
}

func TestTSPrefixes(t *testing.T) {
	for _, c := range []struct {
		ts   ipsec.TrafficSelector
		want string
	}{
		{subnet("10.0.0.0/8"), "10.0.0.0/8"},
		{subnet("0.0.0.0/0"), "0.0.0.0/0"},
		{ts("10.9.0.1", "10.9.0.6"), "10.9.0.1/32 10.9.0.2/31 10.9.0.4/31 10.9.0.6/32"},
		{ts("10.0.0.0", "10.0.2.255"), "10.0.0.0/23 10.0.2.0/24"},
		{ts("255.255.255.254", "255.255.255.255"), "255.255.255.254/31"},
		{ts("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "::/0"},
		{ts("2001:db8::1", "2001:db8::2"), "2001:db8::1/128 2001:db8::2/128"},
		{ts("10.0.0.2", "10.0.0.1"), ""},
		{ipsec.TrafficSelector{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("::1"), EndAddr: netip.MustParseAddr("::2")}, ""},
		{ipsec.TrafficSelector{Type: 99, StartAddr: netip.MustParseAddr("10.0.0.0"), EndAddr: netip.MustParseAddr("10.0.0.1")}, ""},
	} {
		var got []string
		for _, p := range routes.TSPrefixes(c.ts) {
			got = append(got, p.String())
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%v-%v: %q, want %q", c.ts.StartAddr, c.ts.EndAddr, g, c.want)
		}
	}
}

// FuzzTSPrefixes: for any selector the prefixes are disjoint, ascending,
// and cover exactly the range.
func FuzzTSPrefixes(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 6})
	f.Add([]byte{0, 0, 0, 0}, []byte{255, 255, 255, 255})
	f.Add(make([]byte, 16), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		s, ok1 := netip.AddrFromSlice(a)
		e, ok2 := netip.AddrFromSlice(b)
		if !ok1 || !ok2 || s.Is4() != e.Is4() {
			return
		}
		sel := ts(s.String(), e.String())
		ps := routes.TSPrefixes(sel)
		if e.Less(s) {
			if len(ps) != 0 {
				t.Fatalf("reversed range gave %v", ps)
			}
			return
		}
		if len(ps) == 0 || len(ps) > 2*s.BitLen() {
			t.Fatalf("%v-%v: %d prefixes", s, e, len(ps))
		}
		next := s
		for i, p := range ps {
			if p.Addr() != next || p.Masked() != p {
				t.Fatalf("%v-%v: prefix %d %v does not start at %v", s, e, i, p, next)
			}
			last := routes.LastAddr(p)
			if i == len(ps)-1 {
				if last != e {
					t.Fatalf("%v-%v: ends at %v", s, e, last)
				}
				break
			}
			next = last.Next()
		}
	})
}
