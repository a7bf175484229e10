package resolve

import (
	"reflect"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// TestDefaultProposalsAreTheModels: config's default proposals, written as
// IANA transforms, are what the algorithms their comments name in YANG
// terms resolve to.
func TestDefaultProposalsAreTheModels(t *testing.T) {
	aead := []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128}
	cbc := []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes128_cbc}
	sha256 := []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}
	prf := []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha256}
	dh := []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_curve25519, generated.SecgwIke_DhGroup_ecp256, generated.SecgwIke_DhGroup_modp3072}
	for _, c := range []struct {
		name string
		algs []algs
		p    wire.ProtocolID
		want []wire.Proposal
	}{
		{"ike", []algs{{Aead: aead, Prf: prf, DH: dh}, {Enc: cbc, Auth: sha256, DH: append(dh, generated.SecgwIke_DhGroup_modp2048)}},
			wire.ProtocolIKE, config.DefaultIKEProposals()},
		{"esp", []algs{{Aead: aead}, {Enc: cbc, Auth: sha256}}, wire.ProtocolESP, config.DefaultESPProposals()},
	} {
		got, err := proposals(c.algs, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: the YANG algorithms resolve to\n%+v\nthe defaults are\n%+v", c.name, got, c.want)
		}
	}
}
