package resolve

import (
	"secgw/generated"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// SuiteEnums are the YANG enums of a negotiated suite, as the operational
// state reports it (secgw-ike-state.yang, grouping algorithms): Enc and
// Auth for a cipher with an integrity algorithm, Aead for a combined mode,
// Prf for IKE SAs, DH when a group was used. Unknown or absent values stay
// UNSET (0) and are omitted from the state.
type SuiteEnums struct {
	Enc  generated.E_SecgwIke_EncryptionAlgorithm
	Auth generated.E_SecgwIke_IntegrityAlgorithm
	Aead generated.E_SecgwIke_AeadAlgorithm
	Prf  generated.E_SecgwIke_PrfAlgorithm
	DH   generated.E_SecgwIke_DhGroup
}

// EnumsOf maps a suite back to the YANG enums by trying every enum value
// through the same mappings the configuration uses, so the two directions
// cannot disagree.
func EnumsOf(s ikecrypto.Suite) SuiteEnums {
	var out SuiteEnums
	bits := func(t wire.Transform) int {
		b, _ := t.KeyLength()
		return int(b)
	}
	// The generated enums are small integers; 64 covers every value.
	const n = 64
	for v := range generated.E_SecgwIke_EncryptionAlgorithm(n) {
		if t, err := encrTransform(v); err == nil && t.ID == s.Encr && bits(t) == s.KeyBits {
			out.Enc = v
		}
	}
	for v := range generated.E_SecgwIke_AeadAlgorithm(n) {
		if t, err := aeadTransform(v); err == nil && t.ID == s.Encr && bits(t) == s.KeyBits {
			out.Aead = v
		}
	}
	for v := range generated.E_SecgwIke_IntegrityAlgorithm(n) {
		if id, err := integID(v); err == nil && s.Integ != ipsec.IntegNone && id == s.Integ {
			out.Auth = v
		}
	}
	for v := range generated.E_SecgwIke_PrfAlgorithm(n) {
		if id, err := prfID(v); err == nil && s.PRF != 0 && id == s.PRF {
			out.Prf = v
		}
	}
	for v := range generated.E_SecgwIke_DhGroup(n) {
		if id, err := groupID(v); err == nil && s.Group != ipsec.GroupNone && id == s.Group {
			out.DH = v
		}
	}
	return out
}
