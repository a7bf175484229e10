package config

import "net/netip"

// Route options of secgw-ike-global.yang (install-routes, routing-table,
// routing-table-prio) and of secgw-ike-vpn.yang (security-policy
// svti-id-out and inject-routes): the vsr guide's "Reverse route
// injection".
const (
	// DefaultRoutingTable is the default of routing-table.
	DefaultRoutingTable = 220
	// DefaultRoutingTablePrio is the default of routing-table-prio.
	DefaultRoutingTablePrio = 220
	// MainTable is the kernel's main routing table, the default table of
	// inject-routes.
	MainTable = 254
)

// Routes is the route configuration of a vrf's IKE.
type Routes struct {
	// Install is install-routes: routes to the remote selectors of every
	// non-SVTI child SA, via the next hop towards the IKE peer.
	Install bool
	// Table is routing-table: the table of those routes (and of the
	// userspace dataplane's routes into its TUN device).
	Table uint32
	// RulePriority is routing-table-prio: the priority of the rule that
	// looks Table up.
	RulePriority uint32
	// Policies holds the security policies whose routes are not the
	// global ones: those with svti-id-out (install-routes does not apply
	// to them) or with inject-routes. Policies not listed follow the
	// global options.
	Policies map[PolicyRef]PolicyRoutes
}

// PolicyRef names a security policy of a VPN.
type PolicyRef struct{ VPN, Policy string }

// PolicyRoutes are the route options of one security policy.
type PolicyRoutes struct {
	// SVTI is set when the policy has svti-id-out: its child SAs carry
	// the traffic of an SVTI and get no install-routes routes.
	SVTI bool
	// Inject is inject-routes, or nil.
	Inject *InjectRoutes
}

// InjectRoutes is a security policy's inject-routes: routes to the remote
// selectors of its established child SAs, via an explicit next hop.
type InjectRoutes struct {
	// Gateway is next-hop when it is an IP address; Dev when it is an
	// interface name (or the zone of a link-local gateway).
	Gateway netip.Addr
	Dev     string
	// VRF is the vrf of the routes; "" is the IKE vrf.
	VRF string
	// Table is the table of the routes; 0 means MainTable.
	Table uint32
	// L3VRF is the l3vrf of the routes, or "".
	L3VRF string
}

// RouteTable is the table the routes go to: Table, or MainTable.
func (i *InjectRoutes) RouteTable() uint32 {
	if i.Table == 0 {
		return MainTable
	}
	return i.Table
}

// DefaultRoutes is the route configuration of a vrf whose global-options
// set none of the route options: no install-routes, DefaultRoutingTable
// and DefaultRoutingTablePrio.
func DefaultRoutes() Routes {
	return Routes{Table: DefaultRoutingTable, RulePriority: DefaultRoutingTablePrio}
}
