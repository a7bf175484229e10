package strongswan

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"secgw/internal/netnsutil/netnstest"
)

// The addresses of the two ends of the veth pair, ours and charon's, for
// IPv4 (/24) and IPv6 (/64) outer addresses.
var (
	ourAddr     = netip.MustParseAddr("10.99.0.1")
	charonAddr  = netip.MustParseAddr("10.99.0.2")
	ourAddr6    = netip.MustParseAddr("fd00:99::1")
	charonAddr6 = netip.MustParseAddr("fd00:99::2")
	charonInner = netip.MustParseAddr("192.168.2.1") // in charon's protected subnet charonNet
)

// prefixFor is a veth address with its prefix length: /24 or /64.
func prefixFor(a netip.Addr) netip.Prefix {
	if a.Is4() {
		return netip.PrefixFrom(a, 24)
	}
	return netip.PrefixFrom(a, 64)
}

// nsPrefix starts the name of every namespace the tests create:
// nsPrefix<pid>-<seq>-o for ours, -c for charon's.
const nsPrefix = "secgw-ss-"

// topoSeq makes namespace and interface names unique within the process;
// the pid makes them unique between concurrent test binaries.
var topoSeq atomic.Uint32

// topology is two network namespaces joined by a veth pair: ours holds
// ourAddr, charon's holds charonAddr (or the IPv6 pair).
type topology struct {
	ours, charon        string // namespace names
	ourAddr, charonAddr netip.Addr
}

// run runs a command with a bound time and fails the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("strongswan: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs a command with a bound time and returns its combined output.
func runErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// newTopology creates the IPv4 topology; see newTopologyFor.
func newTopology(t *testing.T) *topology { return newTopologyFor(t, false) }

// newTopologyFor creates the namespaces and the veth pair; t.Cleanup deletes
// the namespaces, which destroys the veth pair and the TUN device of
// kernel-libipsec with them. Cleanups run in reverse order, so charon
// (started later) is killed before its namespace goes.
func newTopologyFor(t *testing.T, ipv6 bool) *topology {
	t.Helper()
	id := netnstest.Name(nsPrefix, topoSeq.Add(1))
	top := &topology{ours: id + "-o", charon: id + "-c", ourAddr: ourAddr, charonAddr: charonAddr}
	if ipv6 {
		top.ourAddr, top.charonAddr = ourAddr6, charonAddr6
	}
	ours, ch := netnstest.NewNamed(t, top.ours), netnstest.NewNamed(t, top.charon)
	// Created directly in their namespaces, the veth ends need unique
	// names only there. An IPv6 address skips duplicate address
	// detection: it is usable at once.
	netnstest.Veth(t, ours, ch, "veth-ours", "veth-charon", prefixFor(top.ourAddr), prefixFor(top.charonAddr))
	// charon installs a route for its child SA via the TUN device of
	// kernel-libipsec, with a source address inside its local selector;
	// without one the CHILD_SA fails ("no local address found in traffic
	// selector").
	netnstest.LoAddr(t, netnstest.Handle(t, ch), netip.PrefixFrom(charonInner, 32))
	return top
}

// sweepStale deletes the namespaces left by test binaries that died without
// running their cleanups.
func sweepStale() { netnstest.SweepStale(nsPrefix) }
