package routes

import (
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"

	"secgw/internal/ike/config"
)

// mainVRF is the vrf secgwd starts in (ikesvc.VRF; not imported, to
// keep this package below ikesvc).
const mainVRF = "main"

// logFunc is slog.Logger.Warn or Debug: a child SA's problems are warned
// about when it is added, and only debug-logged when its routes are
// recomputed (a configuration change, a reconcile).
type logFunc func(msg string, args ...any)

// childRoutes computes the routes of child SA c under the configuration
// and the host's addresses. m.mu is held.
func (m *Manager) childRoutes(c Child, addrs []netip.Addr, warn logFunc) []Route {
	if c.Clear != 0 {
		return m.clearRoutes(c, warn)
	}
	pol := m.cfg.Policies[config.PolicyRef{VPN: c.VPN, Policy: c.Policy}]
	var out []Route
	if pol.Inject != nil {
		out = append(out, m.injectRoutes(c, pol.Inject, warn)...)
	}
	if pol.SVTI {
		// The guide: install-routes does not apply to SVTI child SAs (the
		// next hop would be the SVTI, their selectors are often
		// wildcards); inject-routes is their explicit form.
		return out
	}
	if m.tun != "" {
		return append(out, m.tunRoutes(c, addrs, warn)...)
	}
	if m.cfg.Install {
		return append(out, m.installRoutes(c, addrs, warn)...)
	}
	return out
}

// tunRoutes routes the remote selectors of c into the userspace
// dataplane's TUN device: without them no packet reaches its SPD. Like
// kernel-libipsec they are routed whatever install-routes says, and
// whatever the selector's protocol and ports (the TUN device sees the
// whole prefix; what the SPD does not match it drops).
//
// A prefix holding the peer's outer address is not routed: the rule
// looking routing-table up is "from all", so IKE and ESP to the peer
// would be routed into the tunnel they carry.
func (m *Manager) tunRoutes(c Child, addrs []netip.Addr, warn logFunc) []Route {
	peer := c.Remote.Unmap()
	var out []Route
	for _, ts := range c.RemoteTS {
		for _, p := range tsPrefixes(ts) {
			if p.Contains(peer) {
				warn("remote selector holds the IKE peer: not routed into the TUN device (it would loop)",
					"vpn", c.VPN, "policy", c.Policy, "prefix", p, "peer", peer)
				continue
			}
			r := Route{Table: m.cfg.Table, Dst: p, Dev: m.tun}
			r.Src, _ = localSource(c, addrs, p.Addr().Is4())
			out = append(out, r)
		}
	}
	return out
}

// clearRoutes are the routes of a pass or drop security policy. The
// kernel dataplane needs none: its XFRM policies pass or drop the traffic
// whatever route it takes. The userspace dataplane sees only what is
// routed into its TUN device, so:
//
//   - a drop policy's remote selectors are routed into the TUN, where the
//     policy (Discard) drops what it matches; without the route the
//     traffic would leave in clear by the host's other routes;
//   - a pass policy's remote selectors get throw routes in
//     routing-table: more specific than the routes of an esp policy
//     around them, they keep the traffic out of the TUN, and the lookup
//     goes on in the next tables (the host's routes), in clear.
//
// Routes match destinations only: the local selectors, protocol and
// ports of the policy do not narrow them (what the TUN receives and no
// policy matches is dropped). A prefix holding the peer of an esp
// policy is the operator's to avoid: a drop policy over it drops IKE.
func (m *Manager) clearRoutes(c Child, warn logFunc) []Route {
	if m.tun == "" {
		return nil
	}
	var out []Route
	for _, ts := range c.RemoteTS {
		for _, p := range tsPrefixes(ts) {
			if c.Clear == config.ClearPass {
				out = append(out, Route{Table: m.cfg.Table, Dst: p, Throw: true})
			} else {
				out = append(out, Route{Table: m.cfg.Table, Dst: p, Dev: m.tun})
			}
		}
	}
	if len(out) == 0 {
		warn("security policy without IP selectors: not routed", "vpn", c.VPN, "policy", c.Policy, "action", c.Clear.String())
	}
	return out
}

// installRoutes are the routes of install-routes with the kernel
// dataplane, as charon's install_routes (kernel-netlink) does them:
//
//   - only tunnel mode: a transport-mode child protects the peer itself,
//     which is routed already;
//   - only selectors of any protocol and port: a route covers the whole
//     prefix, and would divert traffic the SA does not protect;
//   - only when the host has an address inside the local selectors, which
//     becomes the route's source: the route exists so that the host's own
//     packets to the remote network leave with a source the SA protects
//     (forwarded traffic is matched by the XFRM policy whatever route it
//     takes);
//   - via the next hop of the route to the peer (the guide: "via the same
//     next-hop as the route to the remote IKE peer"). A prefix holding the
//     peer is routed too: its route is the peer's own path, so there is
//     no loop.
func (m *Manager) installRoutes(c Child, addrs []netip.Addr, warn logFunc) []Route {
	if c.Mode == config.ModeTransport {
		return nil
	}
	peer := c.Remote.Unmap()
	var nh NextHop
	var nhErr error
	looked := false
	var out []Route
	for _, ts := range c.RemoteTS {
		if ts.IPProtocol != 0 || ts.StartPort != 0 || ts.EndPort != 0xffff {
			continue
		}
		for _, p := range tsPrefixes(ts) {
			src, ok := localSource(c, addrs, p.Addr().Is4())
			if !ok {
				m.log.Debug("no local address inside the local selectors: no route installed",
					"vpn", c.VPN, "policy", c.Policy, "prefix", p)
				continue
			}
			if !looked {
				nh, nhErr = m.os.RouteTo(peer, c.Local.Unmap())
				looked = true
				if nhErr != nil {
					warn("no route to the IKE peer: its child SA's routes are not installed",
						"vpn", c.VPN, "peer", peer, "err", nhErr)
				}
			}
			if nhErr != nil {
				return out
			}
			r := Route{Table: m.cfg.Table, Dst: p, Dev: nh.Dev, Src: src}
			// An IPv6 selector in an IPv4 tunnel (or the reverse) cannot
			// take the peer's gateway: it is routed on the device only,
			// which is all the XFRM lookup that follows needs.
			if nh.Gateway.IsValid() && nh.Gateway.Is4() == p.Addr().Is4() {
				r.Gateway = nh.Gateway
			}
			out = append(out, r)
		}
	}
	return out
}

// injectRoutes are the routes of a security policy's inject-routes: every
// remote selector via the configured next hop, in the configured vrf
// (the IKE vrf's namespace, or another vrf's through Options.OSOf) and
// table, or in the table of the configured l3vrf (a Linux VRF device of
// that vrf, looked up at each computation: created later, it is found
// by the next reconcile). A prefix holding the peer is not injected into
// the IKE vrf's main table: the host's IKE and ESP to the peer are
// looked up there.
func (m *Manager) injectRoutes(c Child, in *config.InjectRoutes, warn logFunc) []Route {
	vrf := in.VRF
	if vrf == m.vrf {
		vrf = ""
	}
	table := in.RouteTable()
	if in.L3VRF != "" {
		t, err := m.l3vrfTable(vrf, in.L3VRF)
		if err != nil {
			warn("inject-routes: no table for the l3vrf: routes not injected (retried at the next reconcile)",
				"vpn", c.VPN, "policy", c.Policy, "inject-vrf", in.VRF, "l3vrf", in.L3VRF, "err", err)
			return nil
		}
		table = t
	}
	peer := c.Remote.Unmap()
	var out []Route
	for _, ts := range c.RemoteTS {
		for _, p := range tsPrefixes(ts) {
			if vrf == "" && table == config.MainTable && p.Contains(peer) {
				warn("inject-routes: remote selector holds the IKE peer: not injected into the main table (it would loop)",
					"vpn", c.VPN, "policy", c.Policy, "prefix", p, "peer", peer)
				continue
			}
			if in.Gateway.IsValid() && in.Gateway.Is4() != p.Addr().Is4() {
				continue // a next hop of the other family cannot route it
			}
			out = append(out, Route{VRF: vrf, Table: table, Dst: p, Gateway: in.Gateway, Dev: in.Dev})
		}
	}
	return out
}

// l3vrfTable is the table of the VRF device name in vrf ("" the
// Manager's own). m.mu is held.
func (m *Manager) l3vrfTable(vrf, name string) (uint32, error) {
	os, err := m.osFor(vrf)
	if err != nil {
		return 0, err
	}
	t, ok := os.(L3VRFTables)
	if !ok {
		return 0, fmt.Errorf("routes: this host cannot look up l3vrf %s", name)
	}
	return t.L3VRFTable(name)
}

// localSource picks the host address that the host's own packets to the
// remote selectors should come from: one inside the local selectors, of
// the family asked for. It prefers the child SA's own outer address
// (when the local selectors hold it), then the lowest; loopback,
// link-local and unspecified addresses never qualify.
func localSource(c Child, addrs []netip.Addr, v4 bool) (netip.Addr, bool) {
	inLocal := func(a netip.Addr) bool {
		for _, ts := range c.LocalTS {
			if ts.StartAddr.Is4() == a.Is4() && ts.StartAddr.Compare(a) <= 0 && a.Compare(ts.EndAddr) <= 0 {
				return true
			}
		}
		return false
	}
	if l := c.Local.Unmap(); l.IsValid() && l.Is4() == v4 && usableSource(l) && inLocal(l) {
		for _, a := range addrs {
			if a.Unmap() == l {
				return l, true
			}
		}
	}
	var best netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() != v4 || !usableSource(a) || !inLocal(a) {
			continue
		}
		if !best.IsValid() || a.Less(best) {
			best = a
		}
	}
	return best, best.IsValid()
}

func usableSource(a netip.Addr) bool {
	return !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() && !a.IsMulticast()
}

// tsPrefixes is the address range of an IP traffic selector (RFC 7296
// §3.13.1) as the fewest prefixes covering it exactly: a peer may narrow
// to any range, routes are prefixes. Selectors of another type, or whose
// addresses do not match their type or end before they start, give none.
func tsPrefixes(ts ipsec.TrafficSelector) []netip.Prefix {
	s, e := ts.StartAddr, ts.EndAddr
	switch ts.Type {
	case ipsec.TSIPv4AddrRange:
		if !s.Is4() || !e.Is4() {
			return nil
		}
	case ipsec.TSIPv6AddrRange:
		if !s.Is6() || !e.Is6() || s.Is4In6() || e.Is4In6() {
			return nil
		}
	default:
		return nil
	}
	ts.StartAddr, ts.EndAddr = s.WithZone(""), e.WithZone("")
	ps, err := ts.Prefixes()
	if err != nil {
		return nil
	}
	return ps
}
