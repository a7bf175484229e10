package netconf

import (
	"testing"

	"secgw/generated"
)

// TestOverlay: the state tree is merged into a copy of running along its
// paths; running itself is left untouched and unrelated subtrees are
// shared, not copied.
func TestOverlay(t *testing.T) {
	s := func(v string) *string { return &v }
	vpn := &generated.SecgwVrf_Vrf_Ike_Vpn{Name: s("v1")}
	running := &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{
		"main": {Name: s("main"), Ike: &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"v1": vpn}}},
		"red":  {Name: s("red")},
	}}
	uid := uint32(7)
	state := &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{
		"main": {Name: s("main"), Ike: &generated.SecgwVrf_Vrf_Ike{
			IkeSa:     map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa{7: {UniqueId: &uid, Name: s("v1")}},
			Dataplane: generated.SecgwVrf_Vrf_Ike_Dataplane_userspace_esp,
		}},
	}}
	got := overlay(running, state)
	main := got.Vrf["main"]
	if main.Ike.Vpn["v1"] != vpn || got.Vrf["red"] != running.Vrf["red"] {
		t.Error("unrelated subtrees were copied")
	}
	if main.Ike.IkeSa[7] == nil || main.Ike.Dataplane != generated.SecgwVrf_Vrf_Ike_Dataplane_userspace_esp {
		t.Errorf("state not merged: %+v", main.Ike)
	}
	if running.Vrf["main"].Ike.IkeSa != nil || running.Vrf["main"].Ike.Dataplane != 0 {
		t.Error("running was modified")
	}
	if overlay(running, nil) != running {
		t.Error("a nil state must return running itself")
	}
}
