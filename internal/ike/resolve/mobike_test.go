package resolve

import (
	"testing"

	"secgw/generated"
)

// TestResolveMOBIKE: mobike of the VPN's ike-policy wins over its
// template's; unset on both is off (the model's default false).
func TestResolveMOBIKE(t *testing.T) {
	for _, c := range []struct {
		vpn, tmpl *bool
		want      bool
	}{
		{nil, nil, false},
		{nil, ptr(true), true},
		{ptr(false), ptr(true), false},
		{ptr(true), nil, true},
		{ptr(true), ptr(false), true},
	} {
		ike := &generated.SecgwVrf_Vrf_Ike{
			IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{"t": {Name: ptr("t"), Mobike: c.tmpl}},
			Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"v": {Name: ptr("v"),
				IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("t"), Mobike: c.vpn}}},
		}
		cfg, err := Config(ike)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.VPNs[0].MOBIKE; got != c.want {
			t.Errorf("vpn %v, template %v: %v, want %v", c.vpn, c.tmpl, got, c.want)
		}
	}
}
