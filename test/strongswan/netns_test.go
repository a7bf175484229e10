package strongswan

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"secgw/internal/netnsutil"

	"secgw/test/gwtest"
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

// prefixLenFor is the prefix length of the veth addresses: /24 or /64.
func prefixLenFor(a netip.Addr) string {
	if a.Is4() {
		return "/24"
	}
	return "/64"
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
	id := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), topoSeq.Add(1))
	top := &topology{ours: id + "-o", charon: id + "-c", ourAddr: ourAddr, charonAddr: charonAddr}
	if ipv6 {
		top.ourAddr, top.charonAddr = ourAddr6, charonAddr6
	}
	// Created directly in their namespaces, the veth ends need unique
	// names only there.
	vo, vc := "veth-ours", "veth-charon"
	for _, ns := range []string{top.ours, top.charon} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := runErr("ip", "netns", "del", ns); err != nil {
				t.Errorf("strongswan: ip netns del %s: %v %s", ns, err, out)
			}
		})
	}
	run(t, "ip", "link", "add", vo, "netns", top.ours, "type", "veth", "peer", "name", vc, "netns", top.charon)
	for _, s := range []struct {
		ns, dev string
		addr    netip.Addr
	}{{top.ours, vo, top.ourAddr}, {top.charon, vc, top.charonAddr}} {
		run(t, "ip", "-n", s.ns, "link", "set", "lo", "up")
		// nodad: an IPv6 address is usable at once, without waiting for
		// duplicate address detection.
		run(t, "ip", "-n", s.ns, "addr", "add", s.addr.String()+prefixLenFor(s.addr), "dev", s.dev, "nodad")
		run(t, "ip", "-n", s.ns, "link", "set", s.dev, "up")
	}
	// charon installs a route for its child SA via the TUN device of
	// kernel-libipsec, with a source address inside its local selector;
	// without one the CHILD_SA fails ("no local address found in traffic
	// selector").
	run(t, "ip", "-n", top.charon, "addr", "add", charonInner.String()+"/32", "dev", "lo")
	return top
}

// sweepStale deletes the namespaces left by test binaries that died without
// running their cleanups.
func sweepStale() { gwtest.SweepStale(nsPrefix) }

// inNetns runs fn on a thread in the named network namespace
// (netnsutil.RunNamed): sockets created by fn stay there.
func inNetns(t *testing.T, name string, fn func() error) error {
	t.Helper()
	return netnsutil.RunNamed(name, fn)
}
