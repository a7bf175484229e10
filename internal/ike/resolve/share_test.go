package resolve

import (
	"testing"

	"secgw/generated"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
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

// TestProposalMemoPerTemplate: the proposals resolved once per template
// (proposalMemo) go to the VPNs of that template only; a VPN with its own
// proposals, or of another template, gets its own.
func TestProposalMemoPerTemplate(t *testing.T) {
	ikeProp := func(dh generated.E_SecgwIke_DhGroup) map[uint8]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_IkeProposal {
		return map[uint8]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_IkeProposal{
			1: {Id: ptr(uint8(1)), AeadAlg: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes128_gcm_128},
				PrfAlg: []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha384}, DhGroup: []generated.E_SecgwIke_DhGroup{dh}},
		}
	}
	espProp := func(esn bool) map[uint8]*generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_EspProposal {
		return map[uint8]*generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_EspProposal{
			1: {Id: ptr(uint8(1)), AeadAlg: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128}, Esn: []bool{esn}},
		}
	}
	vpn := func(name, tmpl string) *generated.SecgwVrf_Vrf_Ike_Vpn {
		return &generated.SecgwVrf_Vrf_Ike_Vpn{Name: ptr(name), RemoteAddress: ptr("192.0.2.1"),
			IkePolicy:   &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr(tmpl)},
			IpsecPolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{Template: ptr(tmpl)}}
	}
	own := vpn("c-own", "t1")
	own.IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{
		1: {Id: ptr(uint8(1)), AeadAlg: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes128_gcm_128},
			PrfAlg: []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha256}, DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_curve25519}},
	}
	ike := &generated.SecgwVrf_Vrf_Ike{
		IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{
			"t1": {Name: ptr("t1"), IkeProposal: ikeProp(generated.SecgwIke_DhGroup_ecp256)},
			"t2": {Name: ptr("t2"), IkeProposal: ikeProp(generated.SecgwIke_DhGroup_ecp384)},
		},
		IpsecPolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate{
			"t1": {Name: ptr("t1"), EspProposal: espProp(true)},
			"t2": {Name: ptr("t2"), EspProposal: espProp(false)},
		},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"a1": vpn("a1", "t1"), "b2": vpn("b2", "t2"), "c-own": own, "d1": vpn("d1", "t1"), "e2": vpn("e2", "t2"),
		},
	}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	// The KE transform of the IKE proposal and the ESN one of the ESP.
	want := map[string][2]ipsec.TransformID{
		"a1":    {ipsec.TransformID(19), ipsec.ESNEnabled}, // ecp256
		"d1":    {ipsec.TransformID(19), ipsec.ESNEnabled},
		"b2":    {ipsec.TransformID(20), ipsec.ESNDisabled}, // ecp384
		"e2":    {ipsec.TransformID(20), ipsec.ESNDisabled},
		"c-own": {ipsec.TransformID(31), ipsec.ESNEnabled}, // curve25519
	}
	find := func(p wire.Proposal, ty ipsec.TransformType) ipsec.TransformID {
		for _, x := range p.Transforms {
			if x.Type == ty {
				return x.ID
			}
		}
		return 0
	}
	for _, v := range c.VPNs {
		got := [2]ipsec.TransformID{find(v.IKEProposals[0], ipsec.TransformKE), find(v.ESPProposals[0], ipsec.TransformESN)}
		if got != want[v.Name] {
			t.Errorf("vpn %s: KE %d ESN %d, want %v", v.Name, got[0], got[1], want[v.Name])
		}
	}
}

// TestLocalIDShared: the VPNs of one resolution with the same local-id
// hold one identity; another local-id is its own.
func TestLocalIDShared(t *testing.T) {
	vpn := func(name, local string) *generated.SecgwVrf_Vrf_Ike_Vpn {
		return &generated.SecgwVrf_Vrf_Ike_Vpn{Name: ptr(name), RemoteAddress: ptr("192.0.2.1"), LocalId: ptr(local)}
	}
	ike := &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
		"a": vpn("a", "gw.example"), "b": vpn("b", "gw.example"), "c": vpn("c", "other.example"),
	}}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	a, b, o := c.VPN("a").LocalID, c.VPN("b").LocalID, c.VPN("c").LocalID
	if &a.Data[0] != &b.Data[0] || string(a.Data) != "gw.example" {
		t.Errorf("a and b: local ids %q and %q, not one", a.Data, b.Data)
	}
	if string(o.Data) != "other.example" || &o.Data[0] == &a.Data[0] {
		t.Errorf("c: local id %q", o.Data)
	}
}
