package cli

import (
	"bytes"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

// TestSADetailsKeyExchanges: 'show ike ike-sa details' lists the key
// exchange methods of an IKE SA in the order they ran, the IKE_SA_INIT
// group then the additional ones (RFC 9370), in the algorithms line.
func TestSADetailsKeyExchanges(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	c := New(s, nil, &bytes.Buffer{})
	str := func(v string) *string { return &v }
	sa := &generated.SecgwVrf_Vrf_Ike_IkeSa{Name: str("v1"), State: generated.SecgwVrf_Vrf_Ike_IkeSa_State_established,
		AeadAlg: generated.SecgwIke_AeadAlgorithm_aes256_gcm_128, PrfAlg: generated.SecgwIke_PrfAlgorithm_hmac_sha256,
		DhGroup:               generated.SecgwIke_DhGroup_ecp256,
		AdditionalKeyExchange: []generated.E_SecgwIke_KeyExchange{generated.SecgwIke_KeyExchange_mlkem768, generated.SecgwIke_KeyExchange_mlkem1024}}
	out := c.saDetails([]*generated.SecgwVrf_Vrf_Ike_IkeSa{sa}, false)
	if want := "  aes256-gcm-128/prf:hmac-sha256/ecp256/mlkem768/mlkem1024\n"; !strings.Contains(out, want) {
		t.Errorf("details:\n%s\nwant the line %q", out, want)
	}
}
