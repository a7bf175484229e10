package resolve

import (
	"net/netip"
	"reflect"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// TestResolveRoutes: global-options' install-routes, routing-table and
// routing-table-prio, and each security policy's svti-id-out and
// inject-routes (next hop as address, as interface, as a link-local
// address with its zone; vrf, table, l3vrf).
func TestResolveRoutes(t *testing.T) {
	if got, want := Routes(nil), (config.Routes{Table: 220, RulePriority: 220}); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
	sp := func(svti bool, ir *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_InjectRoutes) *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy {
		p := &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{InjectRoutes: ir}
		if svti {
			p.SvtiIdOut = ptr(uint32(100))
		}
		return p
	}
	ike := &generated.SecgwVrf_Vrf_Ike{
		GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{InstallRoutes: ptr(true), RoutingTable: ptr(uint32(230)), RoutingTablePrio: ptr(uint32(300))},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"v": {Name: ptr("v"), SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{
				"plain":   sp(false, nil),
				"svti":    sp(true, nil),
				"dev":     sp(true, &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_InjectRoutes{NextHop: ptr("svti100"), Vrf: ptr("trusted"), Table: ptr(uint32(300))}),
				"addr":    sp(true, &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_InjectRoutes{NextHop: ptr("10.0.0.1"), L3Vrf: ptr("blue")}),
				"zoned":   sp(true, &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_InjectRoutes{NextHop: ptr("fe80::1%svti100")}),
				"no-next": sp(true, &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_InjectRoutes{}),
			}},
		},
	}
	got := Routes(ike)
	want := config.Routes{Install: true, Table: 230, RulePriority: 300, Policies: map[config.PolicyRef]config.PolicyRoutes{
		{VPN: "v", Policy: "svti"}:    {SVTI: true},
		{VPN: "v", Policy: "dev"}:     {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "trusted", Table: 300}},
		{VPN: "v", Policy: "addr"}:    {SVTI: true, Inject: &config.InjectRoutes{Gateway: netip.MustParseAddr("10.0.0.1"), L3VRF: "blue"}},
		{VPN: "v", Policy: "zoned"}:   {SVTI: true, Inject: &config.InjectRoutes{Gateway: netip.MustParseAddr("fe80::1"), Dev: "svti100"}},
		{VPN: "v", Policy: "no-next"}: {SVTI: true},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolved:\n%+v\nwant\n%+v", got, want)
	}
	if tb := got.Policies[config.PolicyRef{VPN: "v", Policy: "dev"}].Inject.RouteTable(); tb != 300 {
		t.Errorf("table of dev: %d", tb)
	}
	if tb := got.Policies[config.PolicyRef{VPN: "v", Policy: "addr"}].Inject.RouteTable(); tb != config.MainTable {
		t.Errorf("default inject-routes table %d, want main", tb)
	}
}
