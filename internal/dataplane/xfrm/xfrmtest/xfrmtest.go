// Package xfrmtest builds network namespaces for tests of the kernel
// dataplane: a fresh namespace per test (nothing of the host's XFRM state
// is seen or touched), veth links between two of them, addresses, routes
// and sockets opened inside a namespace. It needs root and fails (never
// skips) without it.
package xfrmtest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RequireRoot fails the test when it cannot create network namespaces.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("xfrmtest: this test needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces; run it as root")
	}
}

// NewNS creates a network namespace with its loopback up; it is released
// when the test ends.
func NewNS(t testing.TB) netns.NsHandle {
	t.Helper()
	RequireRoot(t)
	ns, err := newNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h := Handle(t, ns)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("xfrmtest: loopback up: %v", err)
	}
	return ns
}

func newNS() (netns.NsHandle, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), fmt.Errorf("xfrmtest: current namespace: %w", err)
	}
	defer orig.Close()
	ns, err := netns.New() // unshare(CLONE_NEWNET): this thread moves
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), fmt.Errorf("xfrmtest: new namespace: %w", err)
	}
	if err := netns.Set(orig); err != nil {
		// The thread stays in ns and locked: the runtime ends it.
		ns.Close()
		return netns.None(), fmt.Errorf("xfrmtest: back to the original namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ns, nil
}

// Handle returns a NETLINK_ROUTE handle in ns, closed at the end of the
// test.
func Handle(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("xfrmtest: netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// Veth links namespace a (interface nameA, address addrA) to namespace b
// (nameB, addrB) and brings both ends up.
func Veth(t testing.TB, a, b netns.NsHandle, nameA, nameB string, addrA, addrB netip.Prefix) {
	t.Helper()
	ha, hb := Handle(t, a), Handle(t, b)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(b)}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatalf("xfrmtest: veth %s-%s: %v", nameA, nameB, err)
	}
	for _, x := range []struct {
		h    *netlink.Handle
		name string
		addr netip.Prefix
	}{{ha, nameA, addrA}, {hb, nameB, addrB}} {
		l, err := x.h.LinkByName(x.name)
		if err != nil {
			t.Fatalf("xfrmtest: %s: %v", x.name, err)
		}
		Addr(t, x.h, l, x.addr)
		if err := x.h.LinkSetUp(l); err != nil {
			t.Fatalf("xfrmtest: %s up: %v", x.name, err)
		}
	}
}

// Addr adds an address to a link; IPv6 addresses skip duplicate address
// detection so that they are usable at once.
func Addr(t testing.TB, h *netlink.Handle, l netlink.Link, p netip.Prefix) {
	t.Helper()
	a := &netlink.Addr{IPNet: IPNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("xfrmtest: address %s on %s: %v", p, l.Attrs().Name, err)
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
	r := &netlink.Route{Dst: IPNet(dst)}
	if gw.IsValid() {
		r.Gw = net.IP(gw.AsSlice())
	}
	if src.IsValid() {
		r.Src = net.IP(src.AsSlice())
	}
	if link != nil {
		r.LinkIndex = link.Attrs().Index
	}
	if err := h.RouteAdd(r); err != nil {
		t.Fatalf("xfrmtest: route %s: %v", dst, err)
	}
}

// IPNet converts a prefix for the netlink library.
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// In runs fn on a thread inside ns: sockets it opens belong to ns.
func In(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("xfrmtest: back to the original namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Sysctl writes a /proc/sys value inside ns (e.g. "net/core/xfrm_acq_expires").
func Sysctl(t testing.TB, ns netns.NsHandle, key, value string) {
	t.Helper()
	if err := In(ns, func() error { return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644) }); err != nil {
		t.Fatalf("xfrmtest: sysctl %s: %v", key, err)
	}
}
