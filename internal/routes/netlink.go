package routes

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Netlink is the OS of a Linux network namespace, over rtnetlink.
//
// Two lookups every child SA's routes needed are cached, as they cost a
// netlink request each (a dump of every address for Addrs):
//   - the host's addresses, kept while no address notification
//     (RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR) arrives: each one
//     empties the cache, and without the subscription nothing is cached;
//   - device indexes by name, forgotten when a route using one is
//     refused (the device may have been re-created) and at each Routes
//     (the manager's reconcile lists the routes first).
type Netlink struct {
	mu sync.Mutex // serialises the requests on h; guards links
	h  *netlink.Handle
	// proto is the routing protocol of the routes and rules it lists,
	// adds and deletes: Protocol, or ProtocolOtherVRF.
	proto int
	// links are the device indexes by name.
	links map[string]int

	// addrMu guards the address cache: addrs, when addrsValid; each
	// notification empties it and counts in addrGen, so that a dump
	// begun before a notification is not kept.
	addrMu       sync.Mutex
	addrs        []netip.Addr
	addrsValid   bool
	addrGen      uint64
	subscribed   bool
	stopAddrSubs chan struct{}
}

// NewNetlink opens rtnetlink in namespace ns; netns.None() is the
// namespace of the calling thread.
func NewNetlink(ns netns.NsHandle) (*Netlink, error) { return NewNetlinkProto(ns, Protocol) }

// NewNetlinkProto is NewNetlink for the routes of protocol proto: the
// routing of another vrf uses ProtocolOtherVRF, so that the routes
// injected there and that vrf's own routes never list each other.
func NewNetlinkProto(ns netns.NsHandle, proto int) (*Netlink, error) {
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
	n := &Netlink{h: h, proto: proto, links: map[string]int{}, stopAddrSubs: make(chan struct{})}
	n.subscribeAddrs(ns)
	return n, nil
}

// subscribeAddrs follows the address notifications of ns, which
// invalidate the address cache. Without them (the subscription failed
// or broke) Addrs asks the kernel every time.
func (n *Netlink) subscribeAddrs(ns netns.NsHandle) {
	ch := make(chan netlink.AddrUpdate, 64)
	opts := netlink.AddrSubscribeOptions{ErrorCallback: func(error) { n.addrEvent(false) }}
	if ns != netns.None() {
		opts.Namespace = &ns
	}
	if err := netlink.AddrSubscribeWithOptions(ch, n.stopAddrSubs, opts); err != nil {
		return
	}
	n.subscribed = true
	go func() {
		for range ch {
			n.addrEvent(true)
		}
		// The subscription ended: cache nothing from now on.
		n.addrEvent(false)
	}()
}

// addrEvent empties the address cache; with still false, the
// subscription is gone and nothing is cached any more.
func (n *Netlink) addrEvent(still bool) {
	n.addrMu.Lock()
	defer n.addrMu.Unlock()
	n.addrGen++
	n.addrs, n.addrsValid = nil, false
	n.subscribed = n.subscribed && still
}

// Close closes the netlink sockets.
func (n *Netlink) Close() {
	close(n.stopAddrSubs)
	n.h.Close()
}

// Routes implements OS.
func (n *Netlink) Routes() ([]Route, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.links)
	names := map[int]string{}
	var out []Route
	var links []int32 // the link index of each route of out
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		// One route at a time: a listing of netlink.Route values would
		// hold ~2 KB for each of the (one per child SA) routes at once.
		// Link names are looked up after the dump (one request at a
		// time on the handle).
		err := n.h.RouteListFilteredIter(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: netlink.RouteProtocol(n.proto)},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL, func(r netlink.Route) bool {
				dst, ok := prefixOf(r.Dst)
				if !ok || len(r.MultiPath) > 0 {
					return true // not a route of ours
				}
				if r.Type == unix.RTN_THROW {
					out = append(out, Route{Table: uint32(r.Table), Dst: dst, Throw: true})
					links = append(links, 0)
					return true
				}
				out = append(out, Route{Table: uint32(r.Table), Dst: dst, Gateway: addrOf(r.Gw), Src: addrOf(r.Src)})
				links = append(links, int32(r.LinkIndex))
				return true
			})
		if err != nil {
			return nil, fmt.Errorf("routes: netlink: %w", err)
		}
	}
	for i, l := range links {
		out[i].Dev = n.linkName(names, int(l))
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
	nr := &netlink.Route{Table: int(r.Table), Dst: ipNet(r.Dst), Protocol: netlink.RouteProtocol(n.proto)}
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
		i, ok := n.links[r.Dev]
		if !ok {
			l, err := n.h.LinkByName(r.Dev)
			if err != nil {
				return nil, fmt.Errorf("device %s: %w", r.Dev, err)
			}
			i = l.Attrs().Index
			n.links[r.Dev] = i
		}
		nr.LinkIndex = i
	}
	return nr, nil
}

// routeRequest runs add (RouteAdd or RouteReplace) on the netlink form
// of r; refused with a cached device index, it looks the device up again
// and retries once. n.mu is held.
func (n *Netlink) routeRequest(r Route, add func(*netlink.Route) error) error {
	_, cached := n.links[r.Dev]
	nr, err := n.route(r)
	if err != nil {
		return err
	}
	if err = add(nr); err != nil && cached {
		delete(n.links, r.Dev)
		if nr, err = n.route(r); err == nil {
			err = add(nr)
		}
	}
	return err
}

// AddRoute implements OS (NLM_F_CREATE|NLM_F_EXCL: EEXIST when the key
// is taken).
func (n *Netlink) AddRoute(r Route) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.routeRequest(r, n.h.RouteAdd)
}

// ReplaceRoute implements OS.
func (n *Netlink) ReplaceRoute(r Route) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.routeRequest(r, n.h.RouteReplace)
}

// DelRoute implements OS. The request carries n's protocol, so the kernel
// deletes only a route of ours; and scope "nowhere", which matches any.
func (n *Netlink) DelRoute(r Route) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.h.RouteDel(&netlink.Route{Table: int(r.Table), Dst: ipNet(r.Dst), Protocol: netlink.RouteProtocol(n.proto), Scope: netlink.SCOPE_NOWHERE})
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
			if int(r.Protocol) != n.proto || r.Table <= 0 || r.Priority < 0 {
				continue
			}
			out = append(out, Rule{V6: fam == netlink.FAMILY_V6, Table: uint32(r.Table), Priority: uint32(r.Priority)})
		}
	}
	return out, nil
}

func (n *Netlink) nlRule(r Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	if r.V6 {
		nr.Family = netlink.FAMILY_V6
	}
	nr.Table, nr.Priority, nr.Protocol = int(r.Table), int(r.Priority), uint8(n.proto)
	return nr
}

// AddRule implements OS.
func (n *Netlink) AddRule(r Rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.h.RuleAdd(n.nlRule(r)); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// DelRule implements OS. The kernel matches the protocol: a rule that is
// not ours is never deleted.
func (n *Netlink) DelRule(r Rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.h.RuleDel(n.nlRule(r)); err != nil && !errors.Is(err, unix.ENOENT) {
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

// Addrs implements OS: from the cache while no address changed (see
// Netlink), else from the kernel.
func (n *Netlink) Addrs() ([]netip.Addr, error) {
	n.addrMu.Lock()
	if n.addrsValid {
		out := slices.Clone(n.addrs)
		n.addrMu.Unlock()
		return out, nil
	}
	gen := n.addrGen
	n.addrMu.Unlock()

	n.mu.Lock()
	as, err := n.h.AddrList(nil, netlink.FAMILY_ALL)
	n.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("routes: netlink: %w", err)
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if ip := addrOf(a.IP); ip.IsValid() {
			out = append(out, ip)
		}
	}
	n.addrMu.Lock()
	// Kept only if no notification came since the dump began: it may
	// predate that change.
	if n.subscribed && n.addrGen == gen {
		n.addrs, n.addrsValid = slices.Clone(out), true
	}
	n.addrMu.Unlock()
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

// L3VRFTable implements L3VRFTables: the table of the VRF device name.
func (n *Netlink) L3VRFTable(name string) (uint32, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l, err := n.h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("routes: l3vrf %s: %w", name, err)
	}
	v, ok := l.(*netlink.Vrf)
	if !ok {
		return 0, fmt.Errorf("routes: l3vrf %s: a %s device, not a vrf", name, l.Type())
	}
	return v.Table, nil
}
