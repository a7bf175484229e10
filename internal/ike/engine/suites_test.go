package engine_test

import (
	"secgw/internal/ipsec"
	"strings"
	"testing"

	"secgw/generated"
)

type (
	encAlg  = generated.E_SecgwIke_EncryptionAlgorithm
	aeadAlg = generated.E_SecgwIke_AeadAlgorithm
	intAlg  = generated.E_SecgwIke_IntegrityAlgorithm
	prfAlg  = generated.E_SecgwIke_PrfAlgorithm
	dhGroup = generated.E_SecgwIke_DhGroup
)

// TestIKESuites negotiates the IKE SA with each encryption, integrity, PRF
// and DH group family between two engines configured with that
// one proposal; the interop tests cover the same with charon.
func TestIKESuites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal
		group ipsec.TransformID
	}{
		{"aes128cbc-sha1-modp2048", generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{EncAlg: []encAlg{generated.SecgwIke_EncryptionAlgorithm_aes128_cbc},
			AuthAlg: []intAlg{generated.SecgwIke_IntegrityAlgorithm_hmac_sha1}, PrfAlg: []prfAlg{generated.SecgwIke_PrfAlgorithm_hmac_sha1},
			DhGroup: []dhGroup{generated.SecgwIke_DhGroup_modp2048}}, ipsec.GroupMODP2048},
		{"aes256cbc-sha512-modp3072", generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{EncAlg: []encAlg{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
			AuthAlg: []intAlg{generated.SecgwIke_IntegrityAlgorithm_hmac_sha512}, DhGroup: []dhGroup{generated.SecgwIke_DhGroup_modp3072}}, ipsec.GroupMODP3072},
		{"aes256cbc-sha384-modp4096", generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{EncAlg: []encAlg{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
			AuthAlg: []intAlg{generated.SecgwIke_IntegrityAlgorithm_hmac_sha384}, DhGroup: []dhGroup{generated.SecgwIke_DhGroup_modp4096}}, ipsec.GroupMODP4096},
		{"aes128gcm-sha384-ecp384", generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes128_gcm_128},
			PrfAlg: []prfAlg{generated.SecgwIke_PrfAlgorithm_hmac_sha384}, DhGroup: []dhGroup{generated.SecgwIke_DhGroup_ecp384}}, ipsec.GroupECP384},
		{"aes256gcm-sha512-ecp521", generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128},
			PrfAlg: []prfAlg{generated.SecgwIke_PrfAlgorithm_hmac_sha512}, DhGroup: []dhGroup{generated.SecgwIke_DhGroup_ecp521}}, ipsec.GroupECP521},
		{"chacha20poly1305-sha256-x25519", generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_chacha20_poly1305},
			PrfAlg: []prfAlg{generated.SecgwIke_PrfAlgorithm_hmac_sha256}, DhGroup: []dhGroup{generated.SecgwIke_DhGroup_curve25519}}, ipsec.GroupCurve25519},
		{"aes256gcm-sha256-ecp256", generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128},
			PrfAlg: []prfAlg{generated.SecgwIke_PrfAlgorithm_hmac_sha256}, DhGroup: []dhGroup{generated.SecgwIke_DhGroup_ecp256}}, ipsec.GroupECP256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := func(ike *generated.SecgwVrf_Vrf_Ike) {
				p := tc.p
				p.Id = ptr(uint8(1))
				for _, v := range ike.Vpn {
					v.IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{1: &p}
				}
			}
			logA, recA := recordLogs(t)
			a, b := pairOpts(t, set, set, recA, nil)
			establish(t, a, b)
			checkChildPair(t, a, b)
			recs := logA.find("IKE_SA_INIT done")
			if len(recs) != 1 || !strings.Contains(recs[0]["suite"], ipsec.TransformName(ipsec.TransformKE, tc.group)) {
				t.Errorf("negotiated %v, want group %v", recs, ipsec.TransformName(ipsec.TransformKE, tc.group))
			}
		})
	}
}

// TestESPSuitesAndESN: the child SA takes the ESP proposal both accept,
// with extended sequence numbers when both ask for them, and is refused
// when the ESN choices do not meet.
func TestESPSuitesAndESN(t *testing.T) {
	esp := func(esn ...bool) func(*generated.SecgwVrf_Vrf_Ike) {
		return func(ike *generated.SecgwVrf_Vrf_Ike) {
			for _, v := range ike.Vpn {
				v.IpsecPolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{EspProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{
					1: {Id: ptr(uint8(1)), EncAlg: []encAlg{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
						AuthAlg: []intAlg{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}, Esn: esn},
				}}
			}
		}
	}
	a, b := pair(t, esp(true), esp(true, false), nil)
	establish(t, a, b)
	ca, cb := checkChildPair(t, a, b)
	if !ca.ESN || !cb.ESN || ca.Suite.Encr != ipsec.EncrAESCBC || ca.Suite.KeyBits != 256 || ca.Suite.Integ != ipsec.IntegHMACSHA2_256_128 {
		t.Errorf("child SA %v esn %v/%v", ca.Suite, ca.ESN, cb.ESN)
	}
	a, b = pair(t, esp(true), esp(false), nil)
	establish(t, a, b) // IKE_AUTH response: SK{IDr, AUTH, N(NO_PROPOSAL_CHOSEN)}
	if len(a.dp.Children())+len(b.dp.Children()) != 0 {
		t.Error("child SA installed with ESN on one side only")
	}
}
