package resolve

import (
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// TestResolveUniqueSA: unique-sa of the VPN's ike-policy wins over its
// template's; unset on both is the template default no.
func TestResolveUniqueSA(t *testing.T) {
	type enum = generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa
	const (
		unset   = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_UNSET
		no      = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_no
		never   = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_never
		keep    = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_keep
		replace = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_replace
	)
	for _, c := range []struct {
		vpn, tmpl enum
		want      config.UniquePolicy
	}{
		{unset, unset, config.UniqueNo},
		{unset, never, config.UniqueNever},
		{unset, keep, config.UniqueKeep},
		{unset, replace, config.UniqueReplace},
		{no, replace, config.UniqueNo},
		{keep, never, config.UniqueKeep},
		{replace, unset, config.UniqueReplace},
		{never, unset, config.UniqueNever},
	} {
		ike := &generated.SecgwVrf_Vrf_Ike{
			IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{"t": {Name: ptr("t"), UniqueSa: c.tmpl}},
			Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"v": {Name: ptr("v"),
				IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("t"), UniqueSa: c.vpn}}},
		}
		cfg, err := Config(ike)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.VPNs[0].Unique; got != c.want {
			t.Errorf("vpn %v, template %v: %v, want %v", c.vpn, c.tmpl, got, c.want)
		}
	}
}
