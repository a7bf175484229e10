package engine

import (
	"errors"
	"slices"
)

// RADIUSPool is the vip-pool name of the pool the vsr guide builds from
// the RADIUS attributes of each SA ("Assigning a virtual IP and
// configuration attributes from a RADIUS server"): not a pool of the
// model, but the Access-Accept's Framed-IP-Address, Framed-IPv6-Address
// and DNS servers, for this IKE SA alone.
const RADIUSPool = "radius"

// errNoVIP is leaseFrom's error when no pool could even be asked (no
// VIPs, no address of the family in the Access-Accept).
var errNoVIP = errors.New("engine: no pool with an address of the family")

// leaseFrom takes an address of the family from the first of pools that
// has one: from the Access-Accept's attrs for 'radius', from VIPs for
// the others. A run of pools between two 'radius' goes to VIPs in one
// Assign, so that a lease the identity holds in a later pool of the run
// wins over a free address of an earlier one (pool.Manager.Acquire).
func (sa *ikeSA) leaseFrom(pools []string, id string, v6 bool, attrs AAAAttrs) (VIPLease, error) {
	vips := sa.w.e.o.VIPs
	err := errNoVIP
	for len(pools) > 0 {
		if pools[0] == RADIUSPool {
			a := attrs.FramedIP
			if v6 {
				a = attrs.FramedIPv6
			}
			if a.IsValid() {
				return VIPLease{Pool: RADIUSPool, Identity: id, Addr: a, DNS: attrs.DNS}, nil
			}
			pools = pools[1:]
			continue
		}
		run := pools
		if i := slices.Index(pools, RADIUSPool); i >= 0 {
			run = pools[:i]
		}
		pools = pools[len(run):]
		if vips == nil {
			continue
		}
		var l VIPLease
		if l, err = vips.Assign(run, id, v6); err == nil {
			return l, nil
		}
	}
	return VIPLease{}, err
}
