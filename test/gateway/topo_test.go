package gateway

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil/netnstest"
)

// Addresses of the topology. The outer ones are the two ends of the veth
// pair; each side holds one host address of its protected networks, IPv4
// and IPv6, on loopback, the source and destination of the test traffic.
//
//	10.1.0.1 fd01::1 [secgwd] 192.0.2.1 --veth-- 192.0.2.2 [charon] 10.2.0.1 fd02::1
var (
	gwOuter     = netip.MustParseAddr("192.0.2.1")
	charonOuter = netip.MustParseAddr("192.0.2.2")
	gwInner4    = netip.MustParseAddr("10.1.0.1")
	charonIn4   = netip.MustParseAddr("10.2.0.1")
	gwInner6    = netip.MustParseAddr("fd01::1")
	charonIn6   = netip.MustParseAddr("fd02::1")
)

// The protected networks, as selectors on both sides.
const (
	gwNet4, charonNet4 = "10.1.0.0/24", "10.2.0.0/24"
	gwNet6, charonNet6 = "fd01::/64", "fd02::/64"
)

// nsPrefix starts the name of every namespace the tests create:
// nsPrefix<pid>-<seq>-g for secgwd's, -c for charon's.
const nsPrefix = "secgw-gw-"

// topoSeq makes namespace names unique within the process; the pid makes
// them unique between concurrent test binaries.
var topoSeq atomic.Uint32

// topology is the two namespaces, secgwd's and charon's.
type topology struct{ gw, charon string }

// newTopology creates the namespaces, the veth pair and the addresses;
// t.Cleanup deletes the namespaces (and with them the veth pair and the
// TUN devices). Cleanups run in reverse order, so the daemons, started
// later, are stopped before their namespace goes.
func newTopology(t *testing.T) *topology {
	t.Helper()
	id := netnstest.Name(nsPrefix, topoSeq.Add(1))
	top := &topology{gw: id + "-g", charon: id + "-c"}
	gw, ch := netnstest.NewNamed(t, top.gw), netnstest.NewNamed(t, top.charon)
	// Created directly in their namespaces, the veth ends need unique
	// names only there.
	netnstest.Veth(t, gw, ch, "veth-gw", "veth-charon", netip.PrefixFrom(gwOuter, 24), netip.PrefixFrom(charonOuter, 24))
	for _, s := range []struct {
		ns       netns.NsHandle
		in4, in6 netip.Addr
	}{{gw, gwInner4, gwInner6}, {ch, charonIn4, charonIn6}} {
		h := netnstest.Handle(t, s.ns)
		netnstest.LoAddr(t, h, netip.PrefixFrom(s.in4, 32))
		netnstest.LoAddr(t, h, netip.PrefixFrom(s.in6, 128))
	}
	return top
}

// sweepStale deletes the namespaces left by test binaries that died without
// running their cleanups.
func sweepStale() { netnstest.SweepStale(nsPrefix) }
