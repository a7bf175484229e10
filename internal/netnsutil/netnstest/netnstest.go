// Package netnstest wraps netnsutil for tests: namespaces that are
// released when the test ends, veth links between two of them,
// addresses, routes, sysctls and code run inside a namespace, each
// failing the test on error. A fresh namespace per test sees and touches
// nothing of the host's links, routes or XFRM state. It needs root and
// fails (never skips) without it.
package netnstest

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil"
)

// RequireRoot fails the test when it cannot create network namespaces.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("netnstest: this test needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces; run it as root")
	}
}

// NewNS creates an anonymous network namespace with its loopback up; it
// is released when the test ends.
func NewNS(t testing.TB) netns.NsHandle {
	t.Helper()
	RequireRoot(t)
	ns, err := netnsutil.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	loUp(t, ns)
	return ns
}

// NewNamed creates the network namespace called name (as ip netns add
// NAME: ip netns exec and RunNamed find it) with its loopback up; it is
// deleted when the test ends, after the cleanups registered later (the
// processes started in it) have run.
func NewNamed(t testing.TB, name string) netns.NsHandle {
	t.Helper()
	RequireRoot(t)
	ns, err := netnsutil.NewNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netnsutil.DeleteNamed(name); err != nil {
			t.Errorf("netnstest: %v", err)
		}
	})
	loUp(t, ns)
	return ns
}

func loUp(t testing.TB, ns netns.NsHandle) {
	t.Helper()
	if err := netnsutil.LinkUp(Handle(t, ns), "lo"); err != nil {
		t.Fatalf("netnstest: loopback: %v", err)
	}
}

// SweepStale deletes the named namespaces prefix<pid>-... whose test
// binary (pid) died without running its cleanups (killed by go test
// -timeout, say).
func SweepStale(prefix string) {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := os.Stat("/proc/" + pid); err != nil {
			_ = netnsutil.DeleteNamed(e.Name())
		}
	}
}

// Handle returns a NETLINK_ROUTE handle in ns, closed at the end of the
// test.
func Handle(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netnsutil.Handle(ns)
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// Veth links namespace a (interface nameA, address addrA) to namespace b
// (nameB, addrB) and brings both ends up.
func Veth(t testing.TB, a, b netns.NsHandle, nameA, nameB string, addrA, addrB netip.Prefix) {
	t.Helper()
	if err := netnsutil.Veth(a, b, nameA, nameB, addrA, addrB); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
}

// Addr adds an address to a link; IPv6 addresses skip duplicate address
// detection so that they are usable at once.
func Addr(t testing.TB, h *netlink.Handle, l netlink.Link, p netip.Prefix) {
	t.Helper()
	if err := netnsutil.AddAddr(h, l, p); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
}

// LoAddr adds an address to the loopback of the handle's namespace.
func LoAddr(t testing.TB, h *netlink.Handle, p netip.Prefix) {
	t.Helper()
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	Addr(t, h, lo, p)
}

// Route adds a route to dst via gw, with preferred source src (may be
// invalid), or through link when gw is invalid.
func Route(t testing.TB, h *netlink.Handle, dst netip.Prefix, gw, src netip.Addr, link netlink.Link) {
	t.Helper()
	if err := netnsutil.AddRoute(h, dst, gw, src, link); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
}

// In runs fn on a thread inside ns (netnsutil.Run): sockets it opens
// belong to ns. It fails the test when fn or the move fails.
func In(t testing.TB, ns netns.NsHandle, fn func() error) {
	t.Helper()
	if err := netnsutil.Run(ns, fn); err != nil {
		t.Fatal(err)
	}
}

// InNamed is In in the namespace called name (netnsutil.RunNamed).
func InNamed(t testing.TB, name string, fn func() error) {
	t.Helper()
	if err := netnsutil.RunNamed(name, fn); err != nil {
		t.Fatal(err)
	}
}

// Sysctl writes a /proc/sys value inside ns (e.g. "net/core/xfrm_acq_expires").
func Sysctl(t testing.TB, ns netns.NsHandle, key, value string) {
	t.Helper()
	if err := netnsutil.Sysctl(ns, key, value); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
}

// Name makes a namespace name unique between concurrent test binaries
// (the pid, which SweepStale reads back) and within one (seq):
// prefix<pid>-<seq>.
func Name(prefix string, seq uint32) string { return fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq) }
