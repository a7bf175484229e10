package daemon

import (
	"log/slog"
	"net/netip"
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

// injectedIn lists the routes of protocol routes.ProtocolOtherVRF in
// table of the namespace called name, as "dst dev".
func injectedIn(t *testing.T, name string, table int) []string {
	t.Helper()
	var out []string
	netnstest.InNamed(t, name, func() error {
		rs, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: table, Protocol: routes.ProtocolOtherVRF},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return err
		}
		for _, r := range rs {
			l, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return err
			}
			out = append(out, r.Dst.String()+" dev "+l.Attrs().Name)
		}
		return nil
	})
	return out
}

// TestInjectRoutesOtherVRF: the guide's cross-vrf inject-routes on the
// host's kernel, in namespaces: the routing of an IKE vrf (untrusted)
// injects a child SA's remote selector "next-hop svti100 vrf trusted
// table 300" into table 300 of trusted's namespace, where svti100 lives
// (a veth stands in for the XFRM interface: routing needs only a
// device), none into its own; the routing of trusted's own IKE instance
// leaves it there (another protocol); when trusted's namespace is replaced (ip
// netns del and add) the reconcile puts the route into the new one; the
// child SA's deletion removes it.
func TestInjectRoutesOtherVRF(t *testing.T) {
	netnstest.RequireRoot(t)
	untrusted, trusted := netnstest.Name("vku", 1), netnstest.Name("vkt", 1)
	uns := netnstest.NewNamed(t, untrusted)
	svti := func(ns netns.NsHandle) {
		netnstest.Veth(t, ns, ns, "svti100", "vkpeer0", netip.MustParsePrefix("10.99.0.1/30"), netip.Prefix{})
	}
	svti(netnstest.NewNamed(t, trusted))

	nl, err := routes.NewNetlink(uns)
	if err != nil {
		t.Fatal(err)
	}
	r := newRoutingIn(nl, "", slog.New(slog.DiscardHandler), untrusted, newVRFRouting(NetnsDir))
	r.os = nl
	defer r.close()
	if err := r.m.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.m.SetConfig(config.Routes{Table: 220, RulePriority: 220, Policies: map[config.PolicyRef]config.PolicyRoutes{
		{VPN: "v", Policy: "net"}: {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: trusted, Table: 300}},
	}}); err != nil {
		t.Fatal(err)
	}
	c := routes.Child{VPN: "v", Policy: "net", Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		InSPI: 0xc001, Mode: config.ModeTunnel,
		LocalTS:  []ipsec.TrafficSelector{config.MustSelector(ipsec.SelectorFromPrefix(netip.MustParsePrefix("192.168.0.0/16"), 0, 0, 65535)).TS()},
		RemoteTS: []ipsec.TrafficSelector{config.MustSelector(ipsec.SelectorFromPrefix(netip.MustParsePrefix("10.0.0.0/8"), 0, 0, 65535)).TS()}}
	r.add([]routes.Child{c})
	want := "10.0.0.0/8 dev svti100"
	if got := injectedIn(t, trusted, 300); len(got) != 1 || got[0] != want {
		t.Fatalf("trusted's table 300 after the child SA: %q, want [%s]", got, want)
	}
	for _, table := range []int{300, 254, unix.RT_TABLE_UNSPEC} {
		if got := injectedIn(t, untrusted, table); len(got) != 0 {
			t.Errorf("untrusted (the IKE vrf) got routes in table %d: %q", table, got)
		}
	}

	// trusted runs an IKE instance of its own: its routing's start and
	// reconcile clean up their protocol, never untrusted's routes.
	tns, err := netns.GetFromName(trusted)
	if err != nil {
		t.Fatal(err)
	}
	tnl, err := routes.NewNetlink(tns)
	tns.Close()
	if err != nil {
		t.Fatal(err)
	}
	own := newRoutingIn(tnl, "", slog.New(slog.DiscardHandler), trusted, nil)
	own.os = tnl
	if err := own.m.Start(); err != nil {
		t.Fatal(err)
	}
	if err := own.m.Reconcile(); err != nil {
		t.Fatal(err)
	}
	own.close()
	if got := injectedIn(t, trusted, 300); len(got) != 1 || got[0] != want {
		t.Fatalf("trusted's table 300 after trusted's own routing started and reconciled: %q, want [%s]", got, want)
	}

	// ip netns del trusted; ip netns add trusted: a new namespace.
	if err := netnsutil.DeleteNamed(trusted); err != nil {
		t.Fatal(err)
	}
	tns, err = netnsutil.NewNamed(trusted)
	if err != nil {
		t.Fatal(err)
	}
	defer tns.Close()
	svti(tns)
	if got := injectedIn(t, trusted, 300); len(got) != 0 {
		t.Fatalf("a new namespace with routes already: %q", got)
	}
	if err := r.m.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if got := injectedIn(t, trusted, 300); len(got) != 1 || got[0] != want {
		t.Fatalf("trusted's new namespace after a reconcile: %q, want [%s]", got, want)
	}

	r.remove(c)
	if got := injectedIn(t, trusted, 300); len(got) != 0 {
		t.Fatalf("trusted's table 300 after the child SA's deletion: %q", got)
	}
}
