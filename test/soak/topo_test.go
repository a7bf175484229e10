package soak

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"secgw/test/gwtest"
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
	for _, ns := range []string{top.a, top.b, top.c} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := gwtest.Run("ip", "netns", "del", ns); err != nil {
				t.Errorf("soak: ip netns del %s: %v %s", ns, err, out)
			}
		})
	}
	mustRun(t, "ip", "link", "add", "veth-ab", "netns", top.a, "type", "veth", "peer", "name", "veth-ba", "netns", top.b)
	mustRun(t, "ip", "link", "add", "veth-ac", "netns", top.a, "type", "veth", "peer", "name", "veth-ca", "netns", top.c)
	for _, s := range []struct {
		ns   string
		side byte
		devs map[string]netip.Addr
	}{
		{top.a, 'a', map[string]netip.Addr{"veth-ab": aToB, "veth-ac": aToC}},
		{top.b, 'b', map[string]netip.Addr{"veth-ba": bOuter}},
		{top.c, 'c', map[string]netip.Addr{"veth-ca": cOuter}},
	} {
		var b strings.Builder
		b.WriteString("link set lo up\n")
		for dev, addr := range s.devs {
			fmt.Fprintf(&b, "addr add %s/24 dev %s\nlink set %s up\n", addr, dev, dev)
		}
		for i := range nets {
			fmt.Fprintf(&b, "addr add %s/32 dev lo\n", inner(s.side, i))
		}
		f, err := os.CreateTemp(t.TempDir(), "ip-batch")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(b.String())
		f.Close()
		mustRun(t, "ip", "-n", s.ns, "-batch", f.Name())
	}
	return top
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := gwtest.Run(name, args...)
	if err != nil {
		t.Fatalf("soak: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// sweepStale deletes the namespaces left by soak binaries that died without
// running their cleanups.
func sweepStale() { gwtest.SweepStale(nsPrefix) }
