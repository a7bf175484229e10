package resolve

import (
	"secgw/internal/ipsec"
	"testing"

	"secgw/generated"
	ikecrypto "secgw/internal/ike/crypto"
)

func TestEnumsOf(t *testing.T) {
	for _, c := range []struct {
		s    ikecrypto.Suite
		want SuiteEnums
	}{
		{ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupECP256},
			SuiteEnums{Aead: generated.SecgwIke_AeadAlgorithm_aes256_gcm_128, Prf: generated.SecgwIke_PrfAlgorithm_hmac_sha256, DH: generated.SecgwIke_DhGroup_ecp256}},
		{ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128},
			SuiteEnums{Enc: generated.SecgwIke_EncryptionAlgorithm_aes128_cbc, Auth: generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}},
		{ikecrypto.Suite{Encr: ipsec.EncrChaCha20Poly1305, Group: ipsec.GroupCurve25519},
			SuiteEnums{Aead: generated.SecgwIke_AeadAlgorithm_chacha20_poly1305, DH: generated.SecgwIke_DhGroup_curve25519}},
		{ikecrypto.Suite{}, SuiteEnums{}},
	} {
		if got := EnumsOf(c.s); got != c.want {
			t.Errorf("EnumsOf(%v) = %+v, want %+v", c.s, got, c.want)
		}
	}
}
