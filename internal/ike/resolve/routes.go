package resolve

import (
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
	if g := ike.GlobalOptions; g != nil {
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
	for vpn, v := range ike.Vpn {
		for name, sp := range v.SecurityPolicy {
			pr := config.PolicyRoutes{SVTI: sp.SvtiIdOut != nil}
			if ir := sp.InjectRoutes; ir != nil && ir.NextHop != nil {
				pr.Inject = parseInject(ir)
			}
			if !pr.SVTI && pr.Inject == nil {
				continue
			}
			if r.Policies == nil {
				r.Policies = map[config.PolicyRef]config.PolicyRoutes{}
			}
			r.Policies[config.PolicyRef{VPN: vpn, Policy: name}] = pr
		}
	}
	return r
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
