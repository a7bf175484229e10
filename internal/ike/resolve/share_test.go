package resolve

import (
	"testing"

	"secgw/generated"
	"secgw/internal/ike/wire"
)

// TestProposalsShared: VPNs that inherit the same proposals (a template's,
// or the defaults) hold one list; a VPN with its own differs.
func TestProposalsShared(t *testing.T) {
	tmplProp := map[uint8]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_IkeProposal{
		1: {Id: ptr(uint8(1)), AeadAlg: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes128_gcm_128},
			PrfAlg:  []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha384},
			DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_ecp384}},
	}
	vpn := func(name, tmpl string) *generated.SecgwVrf_Vrf_Ike_Vpn {
		v := &generated.SecgwVrf_Vrf_Ike_Vpn{Name: ptr(name), RemoteAddress: ptr("192.0.2.1")}
		if tmpl != "" {
			v.IkePolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr(tmpl)}
		}
		return v
	}
	ike := &generated.SecgwVrf_Vrf_Ike{
		IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{
			"t": {Name: ptr("t"), IkeProposal: tmplProp},
		},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"a": vpn("a", "t"), "b": vpn("b", "t"), "c": vpn("c", ""), "d": vpn("d", ""),
		},
	}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]*wire.Proposal{}
	for _, v := range c.VPNs {
		got[v.Name] = [2]*wire.Proposal{&v.IKEProposals[0], &v.ESPProposals[0]}
	}
	if got["a"] != got["b"] || got["c"] != got["d"] {
		t.Errorf("inherited proposals not shared: %v", got)
	}
	if got["a"][0] == got["c"][0] {
		t.Errorf("the template's IKE proposals are the defaults' list")
	}
}

// TestUsesShared: equal lists of dependency keys are one list.
func TestUsesShared(t *testing.T) {
	a := shareUses([]string{"ike-policy-template t", "ipsec-policy-template p"})
	b := shareUses([]string{"ike-policy-template t", "ipsec-policy-template p"})
	c := shareUses([]string{"ike-policy-template t"})
	if &a[0] != &b[0] || len(c) != 1 || &c[0] == &a[0] {
		t.Errorf("shareUses: %p %p %p", &a[0], &b[0], &c[0])
	}
}
