package gateway

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	"secgw/test/gwtest"
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
	id := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), topoSeq.Add(1))
	top := &topology{gw: id + "-g", charon: id + "-c"}
	for _, ns := range []string{top.gw, top.charon} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := runErr("ip", "netns", "del", ns); err != nil {
				t.Errorf("gateway: ip netns del %s: %v %s", ns, err, out)
			}
		})
	}
	// Created directly in their namespaces, the veth ends need unique
	// names only there.
	run(t, "ip", "link", "add", "veth-gw", "netns", top.gw, "type", "veth", "peer", "name", "veth-charon", "netns", top.charon)
	for _, s := range []struct {
		ns, dev         string
		outer, in4, in6 netip.Addr
	}{{top.gw, "veth-gw", gwOuter, gwInner4, gwInner6}, {top.charon, "veth-charon", charonOuter, charonIn4, charonIn6}} {
		batch := fmt.Sprintf("link set lo up\naddr add %s/24 dev %s\nlink set %s up\n"+
			"addr add %s/32 dev lo\naddr add %s/128 dev lo nodad\n", s.outer, s.dev, s.dev, s.in4, s.in6)
		ipBatch(t, s.ns, batch)
	}
	return top
}

// ipBatch runs `ip -batch` in a namespace.
func ipBatch(t *testing.T, ns, batch string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "ip-batch")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(batch); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, "ip", "-n", ns, "-batch", f.Name())
}

// sweepStale deletes the namespaces left by test binaries that died without
// running their cleanups.
func sweepStale() { gwtest.SweepStale(nsPrefix) }

// inNetns runs fn on a thread in the named network namespace
// (netnsutil.RunNamed): sockets created by fn stay there.
func inNetns(name string, fn func() error) error {
	return gwtest.InNetns(name, fn)
}
