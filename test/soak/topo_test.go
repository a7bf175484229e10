package soak

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil/netnstest"
)

// Addresses of the topology (doc.go). inner(side, i) is side's address in
// its i-th protected network, on loopback: the source and destination of
// the test traffic.
var (
	aToB, bOuter = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	aToC, cOuter = netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
)

// nets is how many protected networks each side has (policies x0, x1).
const nets = 2

// inner is the host address of side ('a', 'b' or 'c') in network i.
func inner(side byte, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, map[byte]byte{'a': 1, 'b': 2, 'c': 3}[side], byte(i), 1})
}

// subnet is side's i-th protected network.
func subnet(side byte, i int) string {
	a := inner(side, i).As4()
	return fmt.Sprintf("%d.%d.%d.0/24", a[0], a[1], a[2])
}

// nsPrefix starts the name of every namespace the soak creates:
// nsPrefix<pid>-a, -b, -c.
const nsPrefix = "secgw-soak-"

// topology is the three namespaces.
type topology struct{ a, b, c string }

// newTopology creates the namespaces, the two veth pairs and the
// addresses; t.Cleanup deletes the namespaces (and with them the links
// and TUN devices), after the daemons (registered later) are stopped.
func newTopology(t *testing.T) *topology {
	t.Helper()
	id := fmt.Sprintf("%s%d", nsPrefix, os.Getpid())
	top := &topology{a: id + "-a", b: id + "-b", c: id + "-c"}
	na, nb, nc := netnstest.NewNamed(t, top.a), netnstest.NewNamed(t, top.b), netnstest.NewNamed(t, top.c)
	netnstest.Veth(t, na, nb, "veth-ab", "veth-ba", netip.PrefixFrom(aToB, 24), netip.PrefixFrom(bOuter, 24))
	netnstest.Veth(t, na, nc, "veth-ac", "veth-ca", netip.PrefixFrom(aToC, 24), netip.PrefixFrom(cOuter, 24))
	for _, s := range []struct {
		ns   netns.NsHandle
		side byte
	}{{na, 'a'}, {nb, 'b'}, {nc, 'c'}} {
		h := netnstest.Handle(t, s.ns)
		for i := range nets {
			netnstest.LoAddr(t, h, netip.PrefixFrom(inner(s.side, i), 32))
		}
	}
	return top
}

// sweepStale deletes the namespaces left by soak binaries that died without
// running their cleanups.
func sweepStale() { netnstest.SweepStale(nsPrefix) }
