package routes_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"secgw/internal/netnsutil"
	"secgw/internal/poll"
	"secgw/internal/routes"
)

// TestNetlinkAddrsFollowChanges: Netlink caches the host's addresses,
// and an address added or removed afterwards shows in Addrs (its
// notification empties the cache).
func TestNetlinkAddrsFollowChanges(t *testing.T) {
	ns, h := gatewayNS(t)
	nl, err := routes.NewNetlink(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	extra := netip.MustParseAddr("203.0.113.9")
	has := func() bool {
		as, err := nl.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(as, extra)
	}
	if has() || has() { // the second from the cache
		t.Fatalf("%s before it was added", extra)
	}
	lan, err := h.LinkByName("lan")
	if err != nil {
		t.Fatal(err)
	}
	a := &netlink.Addr{IPNet: netnsutil.IPNet(netip.PrefixFrom(extra, 32))}
	if err := h.AddrAdd(lan, a); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(5*time.Second, has) {
		t.Fatalf("%s added, not in Addrs", extra)
	}
	if err := h.AddrDel(lan, a); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(5*time.Second, func() bool { return !has() }) {
		t.Fatalf("%s removed, still in Addrs", extra)
	}
}

// TestNetlinkDeviceRecreated: a route on a device that was deleted and
// created again (a new index) is installed: the cached index is looked
// up again.
func TestNetlinkDeviceRecreated(t *testing.T) {
	ns, h := gatewayNS(t)
	tunIn(t, ns, "secgwt0")
	nl, err := routes.NewNetlink(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	r := routes.Route{Table: 220, Dst: netip.MustParsePrefix("10.7.0.0/16"), Dev: "secgwt0"}
	if err := nl.AddRoute(r); err != nil {
		t.Fatal(err)
	}
	l, err := h.LinkByName("secgwt0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	tunIn(t, ns, "secgwt0")
	r.Dst = netip.MustParsePrefix("10.8.0.0/16")
	if err := nl.AddRoute(r); err != nil {
		t.Fatalf("route on the re-created device: %v", err)
	}
	rs, err := nl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rs, func(x routes.Route) bool { return x.Dst == r.Dst && x.Dev == "secgwt0" }) {
		t.Errorf("routes %v: no %s on secgwt0", rs, r.Dst)
	}
}
