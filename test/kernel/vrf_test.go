//go:build vmtest

package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/routes"
)

// The vsr guide's cross-vrf SVTI ("IKE in vrf untrusted, svti100 in vrf
// trusted with link-vrf untrusted, inject-routes next-hop svti100 vrf
// trusted table 300, and a PBR rule in trusted looking up table 300"),
// on Debian's kernel, through the product's pieces as secgwd glues them
// for a vrf (internal/daemon/vrf.go): an IKE engine whose dataplane is a
// childsa.Programmer over the XFRM dataplane of untrusted's namespace
// (if_id 100 from svti-id-in/out), and a routes.Manager of untrusted
// whose inject-routes reach trusted's namespace (Options.OSOf, protocol
// routes.ProtocolOtherVRF there).

// vrfRouted is the daemon's routedProgrammer: a child SA's routes follow
// its SAs and policies.
type vrfRouted struct {
	*childsa.Programmer
	m *routes.Manager
}

func routeChild(c engine.ChildSA) routes.Child {
	return routes.Child{VPN: c.VPN, Policy: c.Policy, Local: c.Local.Addr().Unmap(), Remote: c.Remote.Addr().Unmap(),
		InSPI: c.InSPI, Mode: c.Mode, LocalTS: c.LocalTS, RemoteTS: c.RemoteTS}
}

func (p vrfRouted) InstallChild(c engine.ChildSA) error {
	if err := p.Programmer.InstallChild(c); err != nil {
		return err
	}
	return p.m.Add(routeChild(c))
}

func (p vrfRouted) DeleteChild(c engine.ChildSA) error {
	_ = p.m.Remove(routeChild(c))
	return p.Programmer.DeleteChild(c)
}

func (p vrfRouted) InstallChildren(cs []engine.ChildSA) []error {
	errs := p.Programmer.InstallChildren(cs)
	for i, c := range cs {
		if errs == nil || errs[i] == nil {
			_ = p.m.Add(routeChild(c))
		}
	}
	return errs
}

func (p vrfRouted) DeleteChildren(cs []engine.ChildSA) []error {
	for _, c := range cs {
		_ = p.m.Remove(routeChild(c))
	}
	return p.Programmer.DeleteChildren(cs)
}

// ourRoutes lists the routes of protocol routes.Protocol and
// routes.ProtocolOtherVRF in h's namespace, "dst dev table N proto P".
func ourRoutes(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	var out []string
	for _, proto := range []netlink.RouteProtocol{routes.Protocol, routes.ProtocolOtherVRF} {
		out = append(out, routesOf(t, h, proto)...)
	}
	slices.Sort(out)
	return out
}

func routesOf(t *testing.T, h *netlink.Handle, proto netlink.RouteProtocol) []string {
	t.Helper()
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: proto},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		dev := "?"
		if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		out = append(out, fmt.Sprintf("%s dev %s table %d proto %d", r.Dst, dev, r.Table, r.Protocol))
	}
	return out
}

// TestCrossVRFSVTI: gateway A runs IKE in vrf untrusted (namespace
// aU, outer 192.0.2.1) with svti-id-in/out 100; svti100 is created in
// untrusted on the outer link (ip link add svti100 link va type xfrm
// if_id 100) and moved to vrf trusted (ip link set svti100 netns
// trusted), whose network 192.168.1.0/24 holds host H; trusted has the
// PBR rule "from 192.168.0.0/16 lookup 300". Peer B (policy-based,
// 10.0.0.0/8 behind it) and A negotiate over IKE; then:
//   - the injected route 10.0.0.0/8 dev svti100 is in trusted's table
//     300, and untrusted has none of ours;
//   - H's pings to 10.2.0.1 cross svti100, leave untrusted as ESP (A's
//     outbound SA counts them, B's inbound SA decrypts them) and the
//     replies come back through svti100 to H;
//   - the IKE SA deleted, the route leaves trusted's table 300 and H's
//     pings no longer pass.
//
// With l3vrf, trusted holds a Linux VRF device blue (table 1001) with
// svti100 and H's link enslaved, no PBR rule (the kernel's l3mdev rule
// looks the VRF's table up), and inject-routes l3vrf blue instead of
// table 300: the route goes to table 1001.
func TestCrossVRFSVTI(t *testing.T) {
	t.Run("table 300", func(t *testing.T) { testCrossVRFSVTI(t, false) })
	t.Run("l3vrf blue", func(t *testing.T) { testCrossVRFSVTI(t, true) })
}

func testCrossVRFSVTI(t *testing.T, l3vrf bool) {
	ctx := context.Background()
	aU, aT, b, host := netnstest.NewNS(t), netnstest.NewNS(t), netnstest.NewNS(t), netnstest.NewNS(t)
	aOuter, bOuter := addr("192.0.2.1"), addr("192.0.2.2")
	hostAddr, bInner := addr("192.168.1.10"), addr("10.2.0.1")
	netnstest.Veth(t, aU, b, "va", "vb", netip.PrefixFrom(aOuter, 24), netip.PrefixFrom(bOuter, 24))
	netnstest.Veth(t, aT, host, "vkt0", "vkh0", netip.MustParsePrefix("192.168.1.1/24"), netip.PrefixFrom(hostAddr, 24))
	hU, hT, hB, hH := netnstest.Handle(t, aU), netnstest.Handle(t, aT), netnstest.Handle(t, b), netnstest.Handle(t, host)
	netnstest.Route(t, hH, netip.MustParsePrefix("0.0.0.0/0"), addr("192.168.1.1"), netip.Addr{}, nil)
	netnstest.Sysctl(t, aT, "net/ipv4/ip_forward", "1")
	netnstest.LoAddr(t, hB, netip.PrefixFrom(bInner, 32))
	netnstest.Route(t, hB, netip.MustParsePrefix("192.168.0.0/16"), aOuter, bInner, nil)

	// The operator's commands in untrusted, then trusted.
	va, err := hU.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	if err := hU.LinkAdd(&netlink.Xfrmi{LinkAttrs: netlink.LinkAttrs{Name: "svti100", ParentIndex: va.Attrs().Index}, Ifid: 100}); err != nil {
		t.Fatalf("ip link add svti100 link va type xfrm if_id 100: %v", err)
	}
	svti, err := hU.LinkByName("svti100")
	if err != nil {
		t.Fatal(err)
	}
	if err := hU.LinkSetNsFd(svti, int(aT)); err != nil {
		t.Fatalf("ip link set svti100 netns trusted: %v", err)
	}
	if svti, err = hT.LinkByName("svti100"); err != nil {
		t.Fatal(err)
	}
	if x, ok := svti.(*netlink.Xfrmi); !ok || x.Ifid != 100 {
		t.Fatalf("svti100 in trusted: %#v, want an xfrm interface with if_id 100", svti)
	}
	if err := hT.LinkSetUp(svti); err != nil {
		t.Fatal(err)
	}
	inject := &config.InjectRoutes{Dev: "svti100", VRF: "trusted", Table: 300}
	wantRoute := "10.0.0.0/8 dev svti100 table 300 proto 212"
	if l3vrf {
		// ip link add blue type vrf table 1001; ip link set blue up;
		// ip link set svti100 master blue; ip link set vkt0 master blue
		if err := hT.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "blue"}, Table: 1001}); err != nil {
			t.Fatalf("ip link add blue type vrf table 1001: %v", err)
		}
		blue, err := hT.LinkByName("blue")
		if err == nil {
			err = hT.LinkSetUp(blue)
		}
		for _, name := range []string{"svti100", "vkt0"} {
			var l netlink.Link
			if err == nil {
				l, err = hT.LinkByName(name)
			}
			if err == nil {
				err = hT.LinkSetMasterByIndex(l, blue.Attrs().Index)
			}
		}
		if err != nil {
			t.Fatalf("VRF device blue: %v", err)
		}
		inject = &config.InjectRoutes{Dev: "svti100", VRF: "trusted", L3VRF: "blue"}
		wantRoute = "10.0.0.0/8 dev svti100 table 1001 proto 212"
	} else {
		rule := netlink.NewRule()
		rule.Src, rule.Table, rule.Priority = netnsutil.IPNet(netip.MustParsePrefix("192.168.0.0/16")), 300, 100
		if err := hT.RuleAdd(rule); err != nil {
			t.Fatalf("ip rule add from 192.168.0.0/16 lookup 300 (trusted): %v", err)
		}
	}

	// A's dataplane and routing in untrusted, reaching trusted.
	aDP, err := xfrm.New(xfrm.Options{NetNS: aU, Events: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { aDP.Close() })
	bDP, err := xfrm.New(xfrm.Options{NetNS: b, Events: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bDP.Close() })
	uOS, err := routes.NewNetlink(aU)
	if err != nil {
		t.Fatal(err)
	}
	tOS, err := routes.NewNetlinkProto(aT, routes.ProtocolOtherVRF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uOS.Close(); tOS.Close() })
	m := routes.New(routes.Options{OS: uOS, VRF: "untrusted", OSOf: func(vrf string) (routes.OS, error) {
		if vrf != "trusted" {
			return nil, fmt.Errorf("no vrf %s", vrf)
		}
		return tOS, nil
	}})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if err := m.SetConfig(config.Routes{Table: 220, RulePriority: 220, Policies: map[config.PolicyRef]config.PolicyRoutes{
		{VPN: "to-b", Policy: "net"}: {SVTI: true, Inject: inject},
	}}); err != nil {
		t.Fatal(err)
	}
	aProg := childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: aDP,
		Options: func(vpn, policy string) childsa.ChildOptions { return childsa.ChildOptions{IfIDIn: 100, IfIDOut: 100} }})
	aNet, bNet := netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("10.0.0.0/8")
	a := newEngine(t, "to-b", vrfRouted{Programmer: aProg, m: m}, aOuter, bOuter, "a.example", "b.example", aNet, bNet, false)
	peer := newHAEngine(t, "from-a", bDP, bOuter, netip.Addr{}, "b.example", "a.example", bNet, aNet, false)

	uid, err := a.e.InitiateSA("to-b")
	if err != nil {
		t.Fatal(err)
	}
	converse(t, a, peer)
	if got, want := ourRoutes(t, hT), []string{wantRoute}; !slices.Equal(got, want) {
		t.Fatalf("trusted's routes of ours: %q, want %q", got, want)
	}
	if got := ourRoutes(t, hU); len(got) != 0 {
		t.Errorf("untrusted (the IKE vrf) got routes: %q", got)
	}
	st, err := aDP.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var outSA dataplane.SAKey
	for _, sa := range st.SAs {
		if sa.IfID != 100 {
			t.Errorf("A's SA %v has if_id %d, want 100", sa.Key(), sa.IfID)
		}
		if sa.Dst == bOuter {
			outSA = sa.Key()
		}
	}
	bIn := outSA // A's outbound SA is B's inbound one
	if len(st.SAs) != 2 || !outSA.Dst.IsValid() {
		t.Fatalf("A's SAs in untrusted: %+v", st.SAs)
	}

	const pings = 4
	if n, err := ping(host, hostAddr, bInner, pings); err != nil || n != pings {
		t.Fatalf("H (trusted) to B's 10.2.0.1 through svti100: %d of %d replies, %v", n, pings, err)
	}
	out, err := aDP.Counters(ctx, outSA)
	if err != nil {
		t.Fatal(err)
	}
	in, err := bDP.Counters(ctx, bIn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("A's outbound SA (untrusted): %d packets; B's inbound: %d packets, %d auth drops", out.Packets, in.Packets, in.AuthDrops)
	if out.Packets < pings || in.Packets < pings || in.AuthDrops != 0 {
		t.Errorf("the pings were not encrypted in untrusted and decrypted by B: A out %+v, B in %+v", out, in)
	}

	// The IKE SA deleted (INFORMATIONAL): the route leaves trusted.
	if err := a.e.DeleteIKEByUID(uid); err != nil {
		t.Fatal(err)
	}
	converse(t, a, peer)
	if got := ourRoutes(t, hT); len(got) != 0 {
		t.Fatalf("trusted's routes of ours after the IKE SA's deletion: %q", got)
	}
	if n, _ := ping(host, hostAddr, bInner, 1); n != 0 {
		t.Errorf("H's ping passed with no SA and no route")
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
}

// The wrapper is the engine's dataplane, batches included.
var (
	_ engine.Dataplane      = vrfRouted{}
	_ engine.BatchDataplane = vrfRouted{}
)
