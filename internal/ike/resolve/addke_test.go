package resolve

import (
	"secgw/internal/ipsec"
	"slices"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/wire"
)

// TestAdditionalKeyExchanges: additional-key-exchange-N becomes Transform
// Type ADDKEn (RFC 9370 §2.2.1) with the IANA IDs, in the configured order,
// none as NONE; a proposal without them has no ADDKE transform.
func TestAdditionalKeyExchanges(t *testing.T) {
	a := algs{
		Aead: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128},
		Prf:  []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha256},
		DH:   []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_curve25519},
	}
	p, err := a.proposal(1, wire.ProtocolIKE)
	if err != nil || slices.ContainsFunc(p.Transforms, func(t wire.Transform) bool { return t.Type >= ipsec.TransformAddKE1 }) {
		t.Fatalf("without: %v %v", p.Transforms, err)
	}
	a.AddKE[0] = []generated.E_SecgwIke_KeyExchange{generated.SecgwIke_KeyExchange_mlkem768, generated.SecgwIke_KeyExchange_none}
	a.AddKE[2] = []generated.E_SecgwIke_KeyExchange{generated.SecgwIke_KeyExchange_mlkem1024}
	p, err = a.proposal(1, wire.ProtocolIKE)
	if err != nil {
		t.Fatal(err)
	}
	var got []wire.Transform
	for _, x := range p.Transforms {
		if x.Type >= ipsec.TransformAddKE1 && x.Type <= ipsec.TransformAddKE7 {
			got = append(got, x)
		}
	}
	want := []wire.Transform{{Type: ipsec.TransformAddKE1, ID: 36}, {Type: ipsec.TransformAddKE1, ID: 0}, {Type: ipsec.TransformAddKE3, ID: 37}}
	if !slices.EqualFunc(got, want, func(a, b wire.Transform) bool { return a.Type == b.Type && a.ID == b.ID }) {
		t.Errorf("ADDKE transforms %v, want %v", got, want)
	}
	src := &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{AdditionalKeyExchange_7: a.AddKE[0]}
	if got := addKEOf(src); !slices.Equal(got[6], a.AddKE[0]) || got[0] != nil {
		t.Errorf("addKEOf: %v", got)
	}
}
