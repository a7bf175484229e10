package resolve

import (
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// TestResolvePassDropPolicies: security policies of action pass and drop
// are resolved into Config.Clear (not into the VPN's child SA policies),
// with their selectors, priority and svti ids; a disabled VPN has none;
// esp policies carry priority and svti ids too.
func TestResolvePassDropPolicies(t *testing.T) {
	ts := func(s string) *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs {
		return &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: ptr(s)}
	}
	rts := func(s string) *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs {
		return &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: ptr(s)}
	}
	ike := &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
		"v": {Name: ptr("v"), RemoteAddress: ptr("192.0.2.1"), SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{
			"esp":  {Name: ptr("esp"), LocalTs: ts("10.1.0.0/16"), RemoteTs: rts("10.2.0.0/16"), Priority: ptr(uint32(7)), SvtiIdIn: ptr(uint32(5)), SvtiIdOut: ptr(uint32(6))},
			"pass": {Name: ptr("pass"), LocalTs: ts("10.1.0.0/16"), RemoteTs: rts("10.2.5.0/24"), Action: generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_pass},
			"drop": {Name: ptr("drop"), LocalTs: ts("10.1.0.0/16"), RemoteTs: rts("10.2.6.0/24"), Action: generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_drop, Priority: ptr(uint32(3))},
		}},
		"off": {Name: ptr("off"), Enabled: ptr(false), SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{
			"drop2": {Name: ptr("drop2"), Action: generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_drop},
		}},
	}}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	v := c.VPN("v")
	if len(v.Policies) != 1 || v.Policies[0].Name != "esp" {
		t.Fatalf("child SA policies: %+v", v.Policies)
	}
	if p := v.Policies[0]; p.Priority != 7 || p.IfIDIn != 5 || p.IfIDOut != 6 {
		t.Errorf("esp policy: priority %d svti %d/%d", p.Priority, p.IfIDIn, p.IfIDOut)
	}
	if len(c.Clear) != 2 {
		t.Fatalf("clear policies: %+v", c.Clear)
	}
	drop, pass := c.Clear[0], c.Clear[1] // by name
	if drop.Name != "drop" || drop.Action != config.ClearDrop || drop.VPN != "v" || drop.Priority != 3 ||
		drop.Remote.TS().StartAddr.String() != "10.2.6.0" || drop.Local.TS().EndAddr.String() != "10.1.255.255" {
		t.Errorf("drop policy: %+v", drop)
	}
	if pass.Name != "pass" || pass.Action != config.ClearPass || pass.Remote.TS().EndAddr.String() != "10.2.5.255" {
		t.Errorf("pass policy: %+v", pass)
	}
}
