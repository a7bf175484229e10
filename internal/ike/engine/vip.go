package engine

import (
	"net/netip"
	"slices"

	"secgw/internal/ike/ts"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// Virtual IPs and the configuration payload (RFC 7296 §2.19, §3.15), in
// IKE_AUTH only:
//
//	initiator: HDR, SK {IDi, AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr}  -->
//	responder:           <--  HDR, SK {IDr, AUTH, CP(CFG_REPLY), SAr2, TSi, TSr}
//
// As responder, a VPN with vip-pool answers a CFG_REQUEST that asks for
// INTERNAL_IP4_ADDRESS or INTERNAL_IP6_ADDRESS with an address of the
// first of its pools that has one, leased to the peer's identity, and the
// pool's attributes; the child SAs' TSi are narrowed to the address.
// When no pool has one, the response carries INTERNAL_ADDRESS_FAILURE and
// no child SA (RFC 7296 §3.10.1), and the IKE SA stays (§3.15.4: it is
// still created; the initiator decides, strongSwan deletes it). As initiator, a VPN with vip-request
// asks for them; the addresses received are installed on the host
// (VIPs.Install) and the child SAs' TSi narrowed to them. An initiator
// that asked and got none deletes the IKE SA: its traffic selectors
// would name no address of ours.

// VIPs is how the engine reaches the pools and the host's addresses; the
// IKE service implements it. Its methods are called with a worker's lock
// held, from several workers at once: they must be safe for concurrent
// use and must not call the Engine.
type VIPs interface {
	// Assign leases identity an address of the family (IPv6 when v6)
	// from the first of pools that has one and counts one more holder
	// (the IKE SA); an error means none is left.
	Assign(pools []string, identity string, v6 bool) (VIPLease, error)
	// Release drops the holder a successful Assign counted.
	Release(l VIPLease)
	// Install puts vip, received from the peer of vpn, on the host (on
	// the interface of local, or the configured one); Remove takes it
	// away. Each Install is matched by one Remove.
	Install(vpn string, local, vip netip.Addr) error
	Remove(vpn string, local, vip netip.Addr)
}

// VIPLease is an address Assign leased, with the attributes of its pool
// (RFC 7296 §3.15.1).
type VIPLease struct {
	Pool, Identity string
	Addr           netip.Addr
	DNS, NBNS      []netip.Addr
	DHCP           []netip.Addr
	Subnets        []netip.Prefix
	Netmasks       []netip.Addr
}

// vipState is what an IKE SA holds of virtual IPs; nil without any, so
// that an SA without them costs one pointer.
type vipState struct {
	// remote are the leases given to the peer (we are the responder).
	remote []VIPLease
	// local are the addresses the peer gave us, installed with
	// installedOn as the local address (we are the initiator); dns the
	// DNS servers it named (state and log only: see the README).
	local       []netip.Addr
	installedOn netip.Addr
	dns         []netip.Addr
}

// VIPStats counts the configuration requests the responder could not
// serve (INTERNAL_ADDRESS_FAILURE sent).
type VIPStats struct {
	AddressFailures uint64
}

// VIPStats returns the counters of the configuration payload.
func (e *Engine) VIPStats() VIPStats {
	return VIPStats{AddressFailures: e.vipFailures.Load()}
}

// cpRequest is the initiator's CFG_REQUEST for the VPN's vip-request: one
// INTERNAL_IP4_ADDRESS or INTERNAL_IP6_ADDRESS each, empty for 0.0.0.0
// and :: (any address) or with the address wanted, and empty DNS
// attributes of the families asked (RFC 7296 §3.15.1).
func cpRequest(req []netip.Addr) *wire.Configuration {
	cp := &wire.Configuration{CFGType: wire.CFGRequest}
	var dns4, dns6 bool
	for _, a := range req {
		if a.Is4() {
			at := wire.CPAttribute{Type: wire.CPInternalIP4Address}
			if !a.IsUnspecified() {
				at = wire.CPAddr(wire.CPInternalIP4Address, a)
			}
			cp.Attributes = append(cp.Attributes, at)
			dns4 = true
		} else {
			at := wire.CPAttribute{Type: wire.CPInternalIP6Address}
			if !a.IsUnspecified() {
				at = wire.CPPrefix(wire.CPInternalIP6Address, netip.PrefixFrom(a, 128))
			}
			cp.Attributes = append(cp.Attributes, at)
			dns6 = true
		}
	}
	if dns4 {
		cp.Attributes = append(cp.Attributes, wire.CPAttribute{Type: wire.CPInternalIP4DNS})
	}
	if dns6 {
		cp.Attributes = append(cp.Attributes, wire.CPAttribute{Type: wire.CPInternalIP6DNS})
	}
	return cp
}

// respondCP answers the CFG_REQUEST of an IKE_AUTH request, for the VPN
// the peer authenticated under. It returns the payload to add to the
// response (a CFG_REPLY, or INTERNAL_ADDRESS_FAILURE) and whether the
// first child SA may be created. A request to a VPN without vip-pool, or
// without an address attribute, gets no reply (RFC 7296 §3.15: the
// responder need not honour it); the child SA then goes as usual.
func (sa *ikeSA) respondCP(ps []wire.Payload) (out []wire.Payload, child bool) {
	if sa.w.e.o.VIPs == nil {
		return nil, true
	}
	return sa.respondCPWith(ps, AAAAttrs{})
}

// respondCPWith is respondCP for a peer whose AAA server sent attrs (zero
// for one it did not authenticate): the VPN's pools in order, where
// 'radius' is the SA's own pool of the Access-Accept's addresses
// (eap_vip.go). A requested family that no pool can serve is
// INTERNAL_ADDRESS_FAILURE.
func (sa *ikeSA) respondCPWith(ps []wire.Payload, attrs AAAAttrs) (out []wire.Payload, child bool) {
	cp := find[*wire.Configuration](ps, func(c *wire.Configuration) bool { return c.CFGType == wire.CFGRequest })
	pools := sa.vpn.VIPPools()
	if cp == nil || len(pools) == 0 {
		return nil, true
	}
	// At most one address per family: the responder sends no more
	// addresses than were requested (RFC 7296 §3.15.1), and an identity
	// holds one lease of each family anyway.
	var want4, want6 bool
	for _, a := range cp.Attributes {
		want4 = want4 || a.Type == wire.CPInternalIP4Address
		want6 = want6 || a.Type == wire.CPInternalIP6Address
	}
	if !want4 && !want6 {
		return nil, true
	}
	vips := sa.w.e.o.VIPs
	id := sa.peerID.String()
	var got []VIPLease
	for _, v6 := range []bool{false, true} {
		if (v6 && !want6) || (!v6 && !want4) {
			continue
		}
		l, err := sa.leaseFrom(pools, id, v6, attrs)
		if err != nil {
			for _, g := range got {
				if g.Pool != RADIUSPool && vips != nil {
					vips.Release(g)
				}
			}
			sa.w.e.vipFailures.Add(1)
			sa.lastError = wire.NotifyInternalAddressFailure
			sa.log().Warn("no virtual IP for the peer: INTERNAL_ADDRESS_FAILURE, no child SA",
				"peer-id", id, "pools", pools, "ipv6", v6, "err", err)
			// Counted in the statistics as internal-address-failure.
			sa.w.e.emit(Event{Kind: ChildFailed, SA: sa.uid, VPN: sa.vpn.Name,
				Reason: "INTERNAL_ADDRESS_FAILURE sent: no virtual IP left in the pools"})
			return []wire.Payload{wire.NewNotify(wire.NotifyInternalAddressFailure, nil)}, false
		}
		got = append(got, l)
	}
	// The radius leases ride along with the others: releaseVIPs hands
	// them to VIPs.Release, which knows no pool of that name (the model
	// forbids one) and leaves them.
	sa.vip = &vipState{remote: got}
	reply := &wire.Configuration{CFGType: wire.CFGReply}
	for _, l := range got {
		sa.log().Info("virtual IP assigned", "peer-id", id, "vip", l.Addr, "pool", l.Pool)
		if l.Addr.Is4() {
			reply.Attributes = append(reply.Attributes, wire.CPAddr(wire.CPInternalIP4Address, l.Addr))
		} else {
			reply.Attributes = append(reply.Attributes, wire.CPPrefix(wire.CPInternalIP6Address, netip.PrefixFrom(l.Addr, 128)))
		}
	}
	reply.Attributes = append(reply.Attributes, cpAttributes(got)...)
	return []wire.Payload{reply}, true
}

// cpAttributes are the attributes of the pools that gave the leases, each
// once, of the families the leases have (RFC 7296 §3.15.1): a peer
// without an IPv6 address inside the tunnel could not reach an IPv6
// server through it. IPv6 NBNS and
// netmask have no attribute since RFC 7296 removed them (types 9 and 11
// of RFC 4306): they are not sent.
func cpAttributes(ls []VIPLease) []wire.CPAttribute {
	var out []wire.CPAttribute
	seen := map[string]bool{}
	add := func(a wire.CPAttribute) {
		k := string(rune(a.Type)) + string(a.Value)
		if !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	var has4, has6 bool
	for _, l := range ls {
		has4, has6 = has4 || l.Addr.Is4(), has6 || l.Addr.Is6()
	}
	addrs := func(list []netip.Addr, t4, t6 wire.CPAttributeType) {
		for _, a := range list {
			switch {
			case a.Is4() && has4:
				add(wire.CPAddr(t4, a))
			case a.Is6() && has6 && t6 != 0:
				add(wire.CPAddr(t6, a))
			}
		}
	}
	for _, l := range ls {
		addrs(l.DNS, wire.CPInternalIP4DNS, wire.CPInternalIP6DNS)
		addrs(l.NBNS, wire.CPInternalIP4NBNS, 0)
		addrs(l.DHCP, wire.CPInternalIP4DHCP, wire.CPInternalIP6DHCP)
		addrs(l.Netmasks, wire.CPInternalIP4Netmask, 0)
		for _, p := range l.Subnets {
			if p.Addr().Is4() && has4 {
				add(wire.CPPrefix(wire.CPInternalIP4Subnet, p.Masked()))
			} else if p.Addr().Is6() && has6 {
				add(wire.CPPrefix(wire.CPInternalIP6Subnet, p.Masked()))
			}
		}
	}
	return out
}

// processCPReply takes the virtual IPs of the responder's CFG_REPLY (we
// asked with vip-request) and installs them. It reports false when we
// asked and got none: the caller deletes the IKE SA.
func (sa *ikeSA) processCPReply(ps []wire.Payload) bool {
	if len(sa.vpn.VIPRequest()) == 0 {
		return true
	}
	cp := find[*wire.Configuration](ps, func(c *wire.Configuration) bool { return c.CFGType == wire.CFGReply })
	st := &vipState{installedOn: sa.local.Addr()}
	if cp != nil {
		for _, a := range cp.Attributes {
			switch a.Type {
			case wire.CPInternalIP4Address:
				if v, ok := a.Addr(); ok && v.Is4() && !v.IsUnspecified() {
					st.local = append(st.local, v)
				}
			case wire.CPInternalIP6Address:
				if p, ok := a.Prefix(); ok && p.Addr().Is6() && !p.Addr().IsUnspecified() {
					st.local = append(st.local, p.Addr())
				}
			case wire.CPInternalIP4DNS, wire.CPInternalIP6DNS:
				if v, ok := a.Addr(); ok {
					st.dns = append(st.dns, v)
				}
			}
		}
	}
	if len(st.local) == 0 {
		return false
	}
	vips := sa.w.e.o.VIPs
	for i := 0; i < len(st.local); i++ {
		v := st.local[i]
		if vips != nil {
			if err := vips.Install(sa.vpn.Name, st.installedOn, v); err != nil {
				sa.log().Warn("cannot install the virtual IP", "vip", v, "err", err)
				st.local = slices.Delete(st.local, i, i+1)
				i--
				continue
			}
		}
		sa.log().Info("virtual IP received", "vip", v, "dns", st.dns)
	}
	sa.vip = st
	return len(st.local) > 0
}

// localVIPs and remoteVIPs are the SA's virtual IPs of each side.
func (sa *ikeSA) localVIPs() []netip.Addr {
	if sa.vip == nil {
		return nil
	}
	return sa.vip.local
}

func (sa *ikeSA) remoteVIPs() []netip.Addr {
	if sa.vip == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(sa.vip.remote))
	for _, l := range sa.vip.remote {
		out = append(out, l.Addr)
	}
	return out
}

// peerInner are the addresses the peer's side of a child SA is narrowed
// to: the virtual IPs we gave it; for a peer of a VPN with vip-pool that
// got none (it did not ask), its IKE address, as strongSwan's "dynamic"
// selector does, so that a road warrior cannot claim the whole space
// that an unset remote-ts leaves open; else nothing (the policy's
// selectors alone).
func (sa *ikeSA) peerInner() []netip.Addr {
	if v := sa.remoteVIPs(); len(v) > 0 {
		return v
	}
	if len(sa.vpn.VIPPools()) > 0 {
		return []netip.Addr{sa.remote.Addr().Unmap()}
	}
	return nil
}

// releaseVIPs gives back what the SA holds as it goes: the leases to the
// pools, the received addresses to the host. An SA replaced by a rekey
// handed them to its successor (moveTo) and holds none.
func (sa *ikeSA) releaseVIPs() {
	st := sa.vip
	sa.vip = nil
	vips := sa.w.e.o.VIPs
	if st == nil || vips == nil {
		return
	}
	for _, l := range st.remote {
		vips.Release(l)
	}
	for _, v := range st.local {
		vips.Remove(sa.vpn.Name, st.installedOn, v)
	}
}

// narrowToVIPs narrows selectors to the virtual IPs of their side (RFC
// 7296 §2.19: the child SA covers the assigned address): each selector
// intersected with each address. No VIPs leaves them as they are.
func narrowToVIPs(sel []ipsec.TrafficSelector, vips []netip.Addr) []ipsec.TrafficSelector {
	if len(vips) == 0 {
		return sel
	}
	hosts := make([]ipsec.TrafficSelector, 0, len(vips))
	for _, v := range vips {
		hosts = append(hosts, ipsec.SelectorFromPrefix(netip.PrefixFrom(v, v.BitLen()), 0, 0, 65535))
	}
	return ts.Narrow(sel, hosts)
}
