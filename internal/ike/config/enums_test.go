package config

import (
	"testing"

	"secgw/generated"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

func TestEnumsOf(t *testing.T) {
	for _, c := range []struct {
		s    ikecrypto.Suite
		want SuiteEnums
	}{
		{ikecrypto.Suite{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, Group: wire.GroupECP256},
			SuiteEnums{Aead: generated.SecgwIke_AeadAlgorithm_aes256_gcm_128, Prf: generated.SecgwIke_PrfAlgorithm_hmac_sha256, DH: generated.SecgwIke_DhGroup_ecp256}},
		{ikecrypto.Suite{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2_256_128},
			SuiteEnums{Enc: generated.SecgwIke_EncryptionAlgorithm_aes128_cbc, Auth: generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}},
		{ikecrypto.Suite{Encr: wire.EncrChaCha20Poly1305, Group: wire.GroupCurve25519},
			SuiteEnums{Aead: generated.SecgwIke_AeadAlgorithm_chacha20_poly1305, DH: generated.SecgwIke_DhGroup_curve25519}},
		{ikecrypto.Suite{}, SuiteEnums{}},
	} {
		if got := EnumsOf(c.s); got != c.want {
			t.Errorf("EnumsOf(%v) = %+v, want %+v", c.s, got, c.want)
		}
	}
}
