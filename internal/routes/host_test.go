package routes_test

// Tests against the kernel this runs on, each in fresh network namespaces
// (nothing of the host's routing is seen or touched). The state is read
// back with the netlink library directly, not through routes.Netlink.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"secgw/internal/ike/config"
	"secgw/internal/ipsec"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/routes"
)

// counting counts the changes a Manager asks of its OS.
type counting struct {
	routes.OS
	n int
}

func (c *counting) AddRoute(r routes.Route) error     { c.n++; return c.OS.AddRoute(r) }
func (c *counting) ReplaceRoute(r routes.Route) error { c.n++; return c.OS.ReplaceRoute(r) }
func (c *counting) DelRoute(r routes.Route) error     { c.n++; return c.OS.DelRoute(r) }
func (c *counting) AddRule(r routes.Rule) error       { c.n++; return c.OS.AddRule(r) }
func (c *counting) DelRule(r routes.Rule) error       { c.n++; return c.OS.DelRule(r) }

// gatewayNS builds the gateway of the tests: wan 198.51.100.1/24 on a
// veth to a second namespace (198.51.100.254, the router), the peer
// 192.0.2.2 routed via that router, lan 10.1.0.1/24 and
// 2001:db8:1::1/64, svti100 (standing for an SVTI), and a route of another daemon
// (proto static) in table 220.
func gatewayNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	ns, router := netnstest.NewNS(t), netnstest.NewNS(t)
	netnstest.Veth(t, ns, router, "wan", "up", netip.MustParsePrefix("198.51.100.1/24"), netip.MustParsePrefix("198.51.100.254/24"))
	h, hr := netnstest.Handle(t, ns), netnstest.Handle(t, router)
	// This kernel has no dummy links: lan and svti100 are veths whose
	// other ends are in the router's namespace.
	for _, name := range []string{"lan", "svti100"} {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "-r", PeerNamespace: netlink.NsFd(router)}
		if err := h.LinkAdd(veth); err != nil {
			t.Fatal(err)
		}
		for _, x := range []struct {
			h    *netlink.Handle
			name string
		}{{h, name}, {hr, name + "-r"}} {
			l, err := x.h.LinkByName(x.name)
			if err == nil {
				err = x.h.LinkSetUp(l)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	lan, _ := h.LinkByName("lan")
	netnstest.Addr(t, h, lan, netip.MustParsePrefix("10.1.0.1/24"))
	netnstest.Addr(t, h, lan, netip.MustParsePrefix("2001:db8:1::1/64"))
	netnstest.Route(t, h, netip.MustParsePrefix("192.0.2.0/24"), netip.MustParseAddr("198.51.100.254"), netip.Addr{}, nil)
	foreign := &netlink.Route{Table: 220, Dst: netnsutil.IPNet(netip.MustParsePrefix("172.16.0.0/12")), LinkIndex: lan.Attrs().Index,
		Scope: netlink.SCOPE_LINK, Protocol: unix.RTPROT_STATIC}
	if err := h.RouteAdd(foreign); err != nil {
		t.Fatal(err)
	}
	return ns, h
}

// tunIn creates a TUN device in ns and brings it up.
func tunIn(t *testing.T, ns netns.NsHandle, name string) { tunInB(t, ns, name) }

func tunInB(t testing.TB, ns netns.NsHandle, name string) {
	t.Helper()
	err := netnsutil.Run(ns, func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		return h.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TUN, Flags: netlink.TUNTAP_NO_PI})
	})
	if err != nil {
		t.Fatalf("TUN %s: %v", name, err)
	}
	h := netnstest.Handle(t, ns)
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// state renders the namespace's rules and the routes of tables other
// than local and of protocols other than kernel, as ip rule / ip route
// would, one a line, sorted.
func state(t *testing.T, h *netlink.Handle) string {
	t.Helper()
	var lines []string
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := h.RuleList(fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if r.Table == unix.RT_TABLE_LOCAL || r.Table == unix.RT_TABLE_MAIN || r.Table == unix.RT_TABLE_DEFAULT {
				continue
			}
			lines = append(lines, fmt.Sprintf("rule %d: family %d lookup %d proto %d", r.Priority, fam, r.Table, r.Protocol))
		}
		rs, err := h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Table == unix.RT_TABLE_LOCAL || r.Protocol == unix.RTPROT_KERNEL || r.Protocol == unix.RTPROT_BOOT && r.Table == unix.RT_TABLE_MAIN {
				continue
			}
			s := "route " + r.Dst.String()
			if r.Gw != nil {
				s += " via " + r.Gw.String()
			}
			if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
				s += " dev " + l.Attrs().Name
			}
			if r.Src != nil {
				s += " src " + r.Src.String()
			}
			lines = append(lines, fmt.Sprintf("%s table %d proto %d", s, r.Table, r.Protocol))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func wantState(t *testing.T, h *netlink.Handle, step string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := state(t, h); got != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got:\n%s\nwant:\n%s", step, got, strings.Join(want, "\n"))
	}
}

// viaDev is the device the kernel routes dst through for packets from src.
func viaDev(t *testing.T, h *netlink.Handle, dst, src string) string {
	t.Helper()
	rs, err := h.RouteGetWithOptions(netip.MustParseAddr(dst).AsSlice(), &netlink.RouteGetOptions{SrcAddr: netip.MustParseAddr(src).AsSlice()})
	if err != nil || len(rs) == 0 {
		t.Fatalf("route get %s from %s: %v", dst, src, err)
	}
	l, err := h.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Name
}

func hostChild(spi uint32, policy string) routes.Child {
	c := child(spi, policy)
	c.Local, c.Remote = netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("192.0.2.2")
	c.LocalTS = []ipsec.TrafficSelector{subnet("10.1.0.0/16"), subnet("2001:db8:1::/48")}
	c.RemoteTS = []ipsec.TrafficSelector{subnet("10.2.0.0/16"), subnet("2001:db8:2::/48")}
	return c
}

const foreignRoute = "route 172.16.0.0/12 dev lan table 220 proto 4"

// TestHostUserspace: with a TUN device, the start removes what a previous
// run left (a route and rules of protocol 211), adds the rules of table
// 220; a child SA's remote selectors are routed into the TUN device with
// a source in its local selectors, and the kernel really routes the
// host's packets to them there; a change of routing-table and
// routing-table-prio moves routes and rules; an idle reconcile changes
// nothing; close leaves only the foreign route.
func TestHostUserspace(t *testing.T) {
	ns, h := gatewayNS(t)
	tunIn(t, ns, "secgwt0")
	// What a previous run left.
	tun, _ := h.LinkByName("secgwt0")
	if err := h.RouteAdd(&netlink.Route{Table: 230, Dst: netnsutil.IPNet(netip.MustParsePrefix("10.7.0.0/16")), LinkIndex: tun.Attrs().Index,
		Scope: netlink.SCOPE_LINK, Protocol: routes.Protocol}); err != nil {
		t.Fatal(err)
	}
	old := netlink.NewRule()
	old.Table, old.Priority, old.Protocol = 230, 230, routes.Protocol
	if err := h.RuleAdd(old); err != nil {
		t.Fatal(err)
	}

	nl, err := routes.NewNetlink(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	os := &counting{OS: nl}
	m := routes.New(routes.Options{OS: os, TUN: "secgwt0"})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	wantState(t, h, "start", foreignRoute,
		"rule 220: family 2 lookup 220 proto 211", "rule 220: family 10 lookup 220 proto 211")

	c := hostChild(1, "net")
	if err := m.Add(c); err != nil {
		t.Fatal(err)
	}
	wantState(t, h, "child", foreignRoute,
		"rule 220: family 2 lookup 220 proto 211", "rule 220: family 10 lookup 220 proto 211",
		"route 10.2.0.0/16 dev secgwt0 src 10.1.0.1 table 220 proto 211",
		"route 2001:db8:2::/48 dev secgwt0 src 2001:db8:1::1 table 220 proto 211")
	if d := viaDev(t, h, "10.2.3.4", "10.1.0.1"); d != "secgwt0" {
		t.Errorf("the kernel routes 10.2.3.4 through %s, want the TUN device", d)
	}
	if d := viaDev(t, h, "192.0.2.2", "198.51.100.1"); d != "wan" {
		t.Errorf("the kernel routes the peer through %s, want wan", d)
	}

	if err := m.SetConfig(config.Routes{Table: 230, RulePriority: 300}); err != nil {
		t.Fatal(err)
	}
	wantState(t, h, "routing-table 230 prio 300", foreignRoute,
		"rule 300: family 2 lookup 230 proto 211", "rule 300: family 10 lookup 230 proto 211",
		"route 10.2.0.0/16 dev secgwt0 src 10.1.0.1 table 230 proto 211",
		"route 2001:db8:2::/48 dev secgwt0 src 2001:db8:1::1 table 230 proto 211")
	if d := viaDev(t, h, "10.2.3.4", "10.1.0.1"); d != "secgwt0" {
		t.Errorf("after the move the kernel routes 10.2.3.4 through %s, want the TUN device", d)
	}

	os.n = 0
	if err := m.Reconcile(); err != nil || os.n != 0 {
		t.Fatalf("idle reconcile against the kernel: %d changes, %v", os.n, err)
	}
	if err := m.Remove(c); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	wantState(t, h, "close", foreignRoute)
}

// TestHostKernelInstallRoutes: with the kernel dataplane and
// install-routes, the route goes via the router the peer is reached
// through, with the source in the local selectors; an SVTI policy's
// inject-routes go to the main table through svti100 (the kernel fills
// in no gateway, the IPv6 selector in the IPv4 tunnel is on the device);
// an idle reconcile changes nothing; install-routes false removes its
// routes and rules and keeps the injected ones.
func TestHostKernelInstallRoutes(t *testing.T) {
	ns, h := gatewayNS(t)
	nl, err := routes.NewNetlink(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	cfg := config.Routes{Install: true, Table: 220, RulePriority: 220, Policies: map[config.PolicyRef]config.PolicyRoutes{
		{VPN: "to-b", Policy: "svti"}: {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100"}},
	}}
	os := &counting{OS: nl}
	m := routes.New(routes.Options{OS: os})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	wantState(t, h, "start without install-routes: no rule", foreignRoute)
	if err := m.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	c := hostChild(1, "net")
	sv := hostChild(2, "svti")
	sv.RemoteTS = []ipsec.TrafficSelector{subnet("10.6.0.0/16"), subnet("2001:db8:6::/48")}
	for _, x := range []routes.Child{c, sv} {
		if err := m.Add(x); err != nil {
			t.Fatal(err)
		}
	}
	rules := []string{"rule 220: family 2 lookup 220 proto 211", "rule 220: family 10 lookup 220 proto 211"}
	injected := []string{"route 10.6.0.0/16 dev svti100 table 254 proto 211", "route 2001:db8:6::/48 dev svti100 table 254 proto 211"}
	want := append(append([]string{foreignRoute,
		"route 10.2.0.0/16 via 198.51.100.254 dev wan src 10.1.0.1 table 220 proto 211",
		"route 2001:db8:2::/48 dev wan src 2001:db8:1::1 table 220 proto 211",
	}, rules...), injected...)
	wantState(t, h, "install-routes and inject-routes", want...)

	os.n = 0
	if err := m.Reconcile(); err != nil || os.n != 0 {
		t.Fatalf("idle reconcile against the kernel: %d changes, %v", os.n, err)
	}
	wantState(t, h, "after the reconcile", want...)

	cfg.Install = false
	if err := m.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	wantState(t, h, "install-routes false", append([]string{foreignRoute}, injected...)...)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	wantState(t, h, "close", foreignRoute)
}

// BenchmarkHostAddRemove: a child SA's route added and removed through
// rtnetlink in a fresh namespace (userspace dataplane, one remote /16).
func BenchmarkHostAddRemove(b *testing.B) {
	ns := netnstest.NewNS(b)
	tunInB(b, ns, "secgwt0")
	nl, err := routes.NewNetlink(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer nl.Close()
	m := routes.New(routes.Options{OS: nl, TUN: "secgwt0"})
	if err := m.Start(); err != nil {
		b.Fatal(err)
	}
	c := child(1, "net")
	for b.Loop() {
		if err := m.Add(c); err != nil {
			b.Fatal(err)
		}
		if err := m.Remove(c); err != nil {
			b.Fatal(err)
		}
	}
}
