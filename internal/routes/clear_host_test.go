package routes_test

import (
	"net/netip"
	"strings"
	"testing"

	"secgw/internal/ipsec"

	"secgw/internal/ike/config"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/routes"
)

// TestHostClearPolicies: with the userspace dataplane, the routes of
// security policies of action pass and drop in a real kernel. Inside an
// esp policy's 10.2.0.0/16 (routed into the TUN device), a pass policy's
// 10.2.5.0/24 gets a throw route, so that the kernel routes it by the
// main table (in clear, out of wan) and not into the TUN; a drop policy's
// 10.9.0.0/24, routed nowhere else than the default route, goes into the
// TUN, where its Discard policy drops it. Their removal restores the
// routing; an idle reconcile (listing the throw route back) changes
// nothing.
func TestHostClearPolicies(t *testing.T) {
	ns, h := gatewayNS(t)
	tunIn(t, ns, "secgwt0")
	netnstest.Route(t, h, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr("198.51.100.254"), netip.Addr{}, nil)
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
	if err := m.Add(hostChild(1, "net")); err != nil {
		t.Fatal(err)
	}
	clearChild := func(name string, act config.ClearAction, remote string) routes.Child {
		return routes.Child{VPN: "to-b", Policy: name, Clear: act,
			LocalTS: []ipsec.TrafficSelector{subnet("10.1.0.0/16")}, RemoteTS: []ipsec.TrafficSelector{subnet(remote)}}
	}
	pass, drop := clearChild("pass", config.ClearPass, "10.2.5.0/24"), clearChild("drop", config.ClearDrop, "10.9.0.0/24")
	for _, c := range []routes.Child{pass, drop} {
		if err := m.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	for dst, want := range map[string]string{"10.2.3.4": "secgwt0", "10.2.5.4": "wan", "10.9.0.4": "secgwt0", "10.8.0.4": "wan"} {
		if d := viaDev(t, h, dst, "10.1.0.1"); d != want {
			t.Errorf("with pass and drop: the kernel routes %s through %s, want %s", dst, d, want)
		}
	}
	if got := state(t, h); !strings.Contains(got, "route 10.2.5.0/24 table 220 proto 211") {
		t.Errorf("no throw route of ours:\n%s", got)
	}
	os.n = 0
	if err := m.Reconcile(); err != nil || os.n != 0 {
		t.Errorf("idle reconcile: %d changes, %v", os.n, err)
	}
	for _, c := range []routes.Child{pass, drop} {
		if err := m.Remove(c); err != nil {
			t.Fatal(err)
		}
	}
	for dst, want := range map[string]string{"10.2.5.4": "secgwt0", "10.9.0.4": "wan"} {
		if d := viaDev(t, h, dst, "10.1.0.1"); d != want {
			t.Errorf("after their removal: the kernel routes %s through %s, want %s", dst, d, want)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
