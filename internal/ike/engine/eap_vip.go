package engine

import (
	"net/netip"

	"secgw/internal/ike/wire"
)

// RADIUSPool is the vip-pool name of the pool the vsr guide builds from
// the RADIUS attributes of each SA ("Assigning a virtual IP and
// configuration attributes from a RADIUS server"): not a pool of the
// model, but the Access-Accept's Framed-IP-Address, Framed-IPv6-Address
// and DNS servers, for this IKE SA alone.
const RADIUSPool = "radius"

// respondCPAAA is respondCP (vip.go) for an SA the AAA server
// authenticated: the VPN's pools in order, where 'radius' is the SA's own
// pool from the Access-Accept's attributes (attrs). A requested family
// that no pool can serve is INTERNAL_ADDRESS_FAILURE, as in respondCP.
func (sa *ikeSA) respondCPAAA(ps []wire.Payload, attrs AAAAttrs) (out []wire.Payload, child bool) {
	cp := find[*wire.Configuration](ps, func(c *wire.Configuration) bool { return c.CFGType == wire.CFGRequest })
	pools := sa.vpn.VIPPools()
	if cp == nil || len(pools) == 0 {
		return nil, true
	}
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
		l, ok := sa.leaseFrom(pools, id, v6, attrs)
		if !ok {
			for _, g := range got {
				if g.Pool != RADIUSPool && vips != nil {
					vips.Release(g)
				}
			}
			sa.w.e.vipFailures.Add(1)
			sa.lastError = wire.NotifyInternalAddressFailure
			sa.log().Warn("no virtual IP for the peer: INTERNAL_ADDRESS_FAILURE, no child SA",
				"peer-id", id, "pools", pools, "ipv6", v6)
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

// leaseFrom takes an address of the family from the first of pools that
// has one.
func (sa *ikeSA) leaseFrom(pools []string, id string, v6 bool, attrs AAAAttrs) (VIPLease, bool) {
	vips := sa.w.e.o.VIPs
	for _, p := range pools {
		if p == RADIUSPool {
			a := attrs.FramedIP
			if v6 {
				a = attrs.FramedIPv6
			}
			if a.IsValid() {
				return VIPLease{Pool: RADIUSPool, Identity: id, Addr: a, DNS: attrs.DNS}, true
			}
			continue
		}
		if vips == nil {
			continue
		}
		if l, err := vips.Assign([]string{p}, id, v6); err == nil {
			return l, true
		}
	}
	return VIPLease{}, false
}
