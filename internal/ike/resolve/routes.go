package resolve

import (
	"maps"
	"net/netip"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// Routes computes the route configuration of a vrf's ike container (the
// options of secgw-ike-global.yang and secgw-ike-vpn.yang listed at
// config.Routes); nil gives the defaults. Disabled VPNs are included: they
// have no child SAs to route.
func Routes(ike *generated.SecgwVrf_Vrf_Ike) config.Routes {
	r := config.DefaultRoutes()
	if ike == nil {
		return r
	}
	globalRoutes(&r, ike.GlobalOptions)
	for vpn, v := range ike.Vpn {
		policyRoutes(vpn, v, func(ref config.PolicyRef, pr config.PolicyRoutes) {
			if r.Policies == nil {
				r.Policies = map[config.PolicyRef]config.PolicyRoutes{}
			}
			r.Policies[ref] = pr
		})
	}
	return r
}

// UpdateRoutes is Routes of ike after the changes ch, from prev, the
// route configuration of old, the ike container before them: the global
// options are read again, the security policies only of the VPNs ch
// names (in old, to forget, and in ike); the others are prev's. The
// policies' map is prev's own when no policy of a changed VPN has route
// options, before or after. It also returns the number of VPNs it read.
func UpdateRoutes(prev config.Routes, old, ike *generated.SecgwVrf_Vrf_Ike, ch Changes) (config.Routes, int) {
	if ch.All || old == nil || ike == nil {
		n := 0
		if ike != nil {
			n = len(ike.Vpn)
		}
		return Routes(ike), n
	}
	r := config.DefaultRoutes()
	globalRoutes(&r, ike.GlobalOptions)
	r.Policies = prev.Policies
	copied := false
	write := func() {
		if !copied {
			copied = true
			r.Policies = maps.Clone(prev.Policies)
			if r.Policies == nil {
				r.Policies = map[config.PolicyRef]config.PolicyRoutes{}
			}
		}
	}
	n := 0
	for vpn := range ch.VPNs {
		n++
		policyRoutes(vpn, old.Vpn[vpn], func(ref config.PolicyRef, _ config.PolicyRoutes) {
			write()
			delete(r.Policies, ref)
		})
		policyRoutes(vpn, ike.Vpn[vpn], func(ref config.PolicyRef, pr config.PolicyRoutes) {
			write()
			r.Policies[ref] = pr
		})
	}
	if copied && len(r.Policies) == 0 {
		r.Policies = nil
	}
	return r, n
}

// globalRoutes reads install-routes, routing-table and
// routing-table-prio into r.
func globalRoutes(r *config.Routes, g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) {
	if g == nil {
		return
	}
	if g.InstallRoutes != nil {
		r.Install = *g.InstallRoutes
	}
	if g.RoutingTable != nil {
		r.Table = *g.RoutingTable
	}
	if g.RoutingTablePrio != nil {
		r.RulePriority = *g.RoutingTablePrio
	}
}

// policyRoutes calls f for each security policy of v (nil: none) with
// route options: svti-id-out or inject-routes.
func policyRoutes(vpn string, v *generated.SecgwVrf_Vrf_Ike_Vpn, f func(config.PolicyRef, config.PolicyRoutes)) {
	if v == nil {
		return
	}
	for name, sp := range v.SecurityPolicy {
		pr := config.PolicyRoutes{SVTI: sp.SvtiIdOut != nil}
		if ir := sp.InjectRoutes; ir != nil && ir.NextHop != nil {
			pr.Inject = parseInject(ir)
		}
		if !pr.SVTI && pr.Inject == nil {
			continue
		}
		f(config.PolicyRef{VPN: vpn, Policy: name}, pr)
	}
}

func parseInject(ir *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_InjectRoutes) *config.InjectRoutes {
	in := &config.InjectRoutes{}
	if a, err := netip.ParseAddr(*ir.NextHop); err == nil {
		// A link-local next hop names its interface as its zone
		// (fe80::1%eth0): a route carries it as the output device.
		in.Gateway, in.Dev = a.WithZone(""), a.Zone()
	} else {
		in.Dev = *ir.NextHop
	}
	if ir.Vrf != nil {
		in.VRF = *ir.Vrf
	}
	if ir.Table != nil {
		in.Table = *ir.Table
	}
	if ir.L3Vrf != nil {
		in.L3VRF = *ir.L3Vrf
	}
	return in
}
