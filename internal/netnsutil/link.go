package netnsutil

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle opens a NETLINK_ROUTE handle in ns for links, addresses and
// routes there; the caller closes it.
func Handle(ns netns.NsHandle) (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netns: netlink handle: %w", err)
	}
	return h, nil
}

// LinkUp brings the link called name up.
func LinkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("netns: %s up: %w", name, err)
	}
	return nil
}

// Veth links namespace a (interface nameA, address addrA) to namespace b
// (nameB, addrB) and brings both ends up. An invalid prefix adds no
// address on its end.
func Veth(a, b netns.NsHandle, nameA, nameB string, addrA, addrB netip.Prefix) error {
	ha, err := Handle(a)
	if err != nil {
		return err
	}
	defer ha.Close()
	hb, err := Handle(b)
	if err != nil {
		return err
	}
	defer hb.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(b)}
	if err := ha.LinkAdd(veth); err != nil {
		return fmt.Errorf("netns: veth %s-%s: %w", nameA, nameB, err)
	}
	for _, x := range []struct {
		h    *netlink.Handle
		name string
		addr netip.Prefix
	}{{ha, nameA, addrA}, {hb, nameB, addrB}} {
		l, err := x.h.LinkByName(x.name)
		if err != nil {
			return fmt.Errorf("netns: %s: %w", x.name, err)
		}
		if x.addr.IsValid() {
			if err := AddAddr(x.h, l, x.addr); err != nil {
				return err
			}
		}
		if err := x.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("netns: %s up: %w", x.name, err)
		}
	}
	return nil
}

// AddAddr adds an address to a link; IPv6 addresses skip duplicate
// address detection so that they are usable at once.
func AddAddr(h *netlink.Handle, l netlink.Link, p netip.Prefix) error {
	a := &netlink.Addr{IPNet: IPNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("netns: address %s on %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

// AddRoute adds a route to dst via gw, with preferred source src (may be
// invalid), or through link when gw is invalid.
func AddRoute(h *netlink.Handle, dst netip.Prefix, gw, src netip.Addr, link netlink.Link) error {
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
		return fmt.Errorf("netns: route %s: %w", dst, err)
	}
	return nil
}

// IPNet converts a prefix for the netlink library.
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
