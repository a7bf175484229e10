package config

import (
	"net/netip"
	"reflect"
	"strconv"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

// TestResolveRoutes: global-options' install-routes, routing-table and
// routing-table-prio, and each security policy's svti-id-out and
// inject-routes (next hop as address, as interface, as a link-local
// address with its zone; vrf, table, l3vrf).
func TestResolveRoutes(t *testing.T) {
	if got, want := ResolveRoutes(nil), (Routes{Table: 220, RulePriority: 220}); !reflect.DeepEqual(got, want) {
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
	got := ResolveRoutes(ike)
	want := Routes{Install: true, Table: 230, RulePriority: 300, Policies: map[PolicyRef]PolicyRoutes{
		{"v", "svti"}:    {SVTI: true},
		{"v", "dev"}:     {SVTI: true, Inject: &InjectRoutes{Dev: "svti100", VRF: "trusted", Table: 300}},
		{"v", "addr"}:    {SVTI: true, Inject: &InjectRoutes{Gateway: netip.MustParseAddr("10.0.0.1"), L3VRF: "blue"}},
		{"v", "zoned"}:   {SVTI: true, Inject: &InjectRoutes{Gateway: netip.MustParseAddr("fe80::1"), Dev: "svti100"}},
		{"v", "no-next"}: {SVTI: true},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolved:\n%+v\nwant\n%+v", got, want)
	}
	if tb := got.Policies[PolicyRef{"v", "dev"}].Inject.RouteTable(); tb != 300 {
		t.Errorf("table of dev: %d", tb)
	}
	if tb := got.Policies[PolicyRef{"v", "addr"}].Inject.RouteTable(); tb != MainTable {
		t.Errorf("default inject-routes table %d, want main", tb)
	}
}

// TestRouteDefaultsMatchSchema keeps DefaultRoutingTable and
// DefaultRoutingTablePrio equal to the YANG defaults.
func TestRouteDefaultsMatchSchema(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got  int
		leaf string
	}{{DefaultRoutingTable, "routing-table"}, {DefaultRoutingTablePrio, "routing-table-prio"}} {
		e := s.Find("vrf", "ike", "global-options", c.leaf)
		if e == nil {
			t.Fatalf("no node global-options %s", c.leaf)
		}
		if d, _ := e.SingleDefaultValue(); d != strconv.Itoa(c.got) {
			t.Errorf("%s: constant %d, schema default %s", c.leaf, c.got, d)
		}
	}
}
