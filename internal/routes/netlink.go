package routes

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Netlink is the OS of a Linux network namespace, over rtnetlink.
type Netlink struct {
	mu sync.Mutex // serialises the requests on h
	h  *netlink.Handle
}

// NewNetlink opens rtnetlink in namespace ns; netns.None() is the
// namespace of the calling thread.
func NewNetlink(ns netns.NsHandle) (*Netlink, error) {
	var h *netlink.Handle
	var err error
	if ns == netns.None() {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("routes: netlink: %w", err)
	}
	return &Netlink{h: h}, nil
}

// Close closes the netlink socket.
func (n *Netlink) Close() { n.h.Close() }

// Routes implements OS.
func (n *Netlink) Routes() ([]Route, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := map[int]string{}
	var out []Route
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := n.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: Protocol},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return nil, fmt.Errorf("routes: netlink: %w", err)
		}
		for _, r := range rs {
			dst, ok := prefixOf(r.Dst)
			if !ok || len(r.MultiPath) > 0 {
				continue // not a route of ours
			}
			if r.Type == unix.RTN_THROW {
				out = append(out, Route{Table: uint32(r.Table), Dst: dst, Throw: true})
				continue
			}
			out = append(out, Route{Table: uint32(r.Table), Dst: dst, Gateway: addrOf(r.Gw), Src: addrOf(r.Src),
				Dev: n.linkName(names, r.LinkIndex)})
		}
	}
	return out, nil
}

// linkName is the name of link index i, through a cache of one listing.
// n.mu is held.
func (n *Netlink) linkName(cache map[int]string, i int) string {
	if i == 0 {
		return ""
	}
	if name, ok := cache[i]; ok {
		return name
	}
	name := ""
	if l, err := n.h.LinkByIndex(i); err == nil {
		name = l.Attrs().Name
	}
	cache[i] = name
	return name
}

// route is the netlink form of r. n.mu is held.
func (n *Netlink) route(r Route) (*netlink.Route, error) {
	nr := &netlink.Route{Table: int(r.Table), Dst: ipNet(r.Dst), Protocol: Protocol}
	if r.Throw {
		// "ip route add throw P table T": no next hop, scope universe.
		nr.Type = unix.RTN_THROW
		return nr, nil
	}
	if r.Gateway.IsValid() {
		nr.Gw = r.Gateway.AsSlice()
	} else {
		// A route on a device, like "ip route add P dev D".
		nr.Scope = netlink.SCOPE_LINK
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.Dev != "" {
		l, err := n.h.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", r.Dev, err)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	return nr, nil
}

// AddRoute implements OS (NLM_F_CREATE|NLM_F_EXCL: EEXIST when the key
// is taken).
func (n *Netlink) AddRoute(r Route) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	nr, err := n.route(r)
	if err == nil {
		err = n.h.RouteAdd(nr)
	}
	return err
}

// ReplaceRoute implements OS.
func (n *Netlink) ReplaceRoute(r Route) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	nr, err := n.route(r)
	if err == nil {
		err = n.h.RouteReplace(nr)
	}
	return err
}

// DelRoute implements OS. The request carries Protocol, so the kernel
// deletes only a route of ours; and scope "nowhere", which matches any.
func (n *Netlink) DelRoute(r Route) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.h.RouteDel(&netlink.Route{Table: int(r.Table), Dst: ipNet(r.Dst), Protocol: Protocol, Scope: netlink.SCOPE_NOWHERE})
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// Rules implements OS.
func (n *Netlink) Rules() ([]Rule, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Rule
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := n.h.RuleList(fam)
		if err != nil {
			return nil, fmt.Errorf("routes: netlink: %w", err)
		}
		for _, r := range rs {
			if r.Protocol != Protocol || r.Table <= 0 || r.Priority < 0 {
				continue
			}
			out = append(out, Rule{V6: fam == netlink.FAMILY_V6, Table: uint32(r.Table), Priority: uint32(r.Priority)})
		}
	}
	return out, nil
}

func nlRule(r Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	if r.V6 {
		nr.Family = netlink.FAMILY_V6
	}
	nr.Table, nr.Priority, nr.Protocol = int(r.Table), int(r.Priority), Protocol
	return nr
}

// AddRule implements OS.
func (n *Netlink) AddRule(r Rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.h.RuleAdd(nlRule(r)); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// DelRule implements OS. The kernel matches the protocol: a rule that is
// not ours is never deleted.
func (n *Netlink) DelRule(r Rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.h.RuleDel(nlRule(r)); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// RouteTo implements OS.
func (n *Netlink) RouteTo(dst, src netip.Addr) (NextHop, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	opts := &netlink.RouteGetOptions{}
	if src.IsValid() && !src.IsUnspecified() {
		opts.SrcAddr = src.AsSlice()
	}
	rs, err := n.h.RouteGetWithOptions(dst.AsSlice(), opts)
	if err != nil {
		return NextHop{}, fmt.Errorf("routes: route to %s: %w", dst, err)
	}
	if len(rs) == 0 {
		return NextHop{}, fmt.Errorf("routes: no route to %s", dst)
	}
	return NextHop{Gateway: addrOf(rs[0].Gw), Dev: n.linkName(map[int]string{}, rs[0].LinkIndex)}, nil
}

// Addrs implements OS.
func (n *Netlink) Addrs() ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	as, err := n.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("routes: netlink: %w", err)
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if ip := addrOf(a.IP); ip.IsValid() {
			out = append(out, ip)
		}
	}
	return out, nil
}

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a := addrOf(n.IP)
	bits, total := n.Mask.Size()
	if !a.IsValid() || total != a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
