package resolve

import (
	"secgw/internal/ipsec"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/wire"
)

// TestIKEProposalESPOnlyEncr: AES-CTR is ESP-only (ike/crypto
// has no RFC 5930 SK payload). An IKE proposal listing nothing else is
// refused with the reason, in the VPN or in its template; one listing
// another algorithm keeps that one, with a warning; ESP proposals keep
// AES-CTR.
func TestIKEProposalESPOnlyEncr(t *testing.T) {
	ctr128, ctr256 := generated.SecgwIke_EncryptionAlgorithm_aes128_ctr, generated.SecgwIke_EncryptionAlgorithm_aes256_ctr
	cbc := generated.SecgwIke_EncryptionAlgorithm_aes256_cbc
	sha256 := []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}
	dh := []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_curve25519}
	gcm := []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes128_gcm_128}
	build := func(enc []generated.E_SecgwIke_EncryptionAlgorithm, aead []generated.E_SecgwIke_AeadAlgorithm, inTemplate bool) *generated.SecgwVrf_Vrf_Ike {
		v := &generated.SecgwVrf_Vrf_Ike_Vpn{Name: ptr("v"), RemoteAddress: ptr("192.0.2.1"),
			IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{PreSharedKey: ptr("0x0102")},
			IpsecPolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{EspProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{
				1: {Id: ptr(uint8(1)), EncAlg: []generated.E_SecgwIke_EncryptionAlgorithm{ctr128}, AuthAlg: sha256},
			}}}
		ike := &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"v": v}}
		if inTemplate {
			ike.IkePolicyTemplate = map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{"t": {Name: ptr("t"),
				IkeProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_IkeProposal{
					3: {Id: ptr(uint8(3)), EncAlg: enc, AeadAlg: aead, AuthAlg: sha256, DhGroup: dh}}}}
			v.IkePolicy.Template = ptr("t")
		} else {
			v.IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{
				2: {Id: ptr(uint8(2)), EncAlg: enc, AeadAlg: aead, AuthAlg: sha256, DhGroup: dh}}
		}
		return ike
	}
	encs := func(p wire.Proposal) []string {
		var out []string
		for _, tr := range p.Transforms {
			if tr.Type == ipsec.TransformEncr {
				out = append(out, tr.String())
			}
		}
		return out
	}
	for _, c := range []struct {
		name       string
		enc        []generated.E_SecgwIke_EncryptionAlgorithm
		aead       []generated.E_SecgwIke_AeadAlgorithm
		template   bool
		err        string
		encr, warn string
	}{
		{name: "ctr alone", enc: []generated.E_SecgwIke_EncryptionAlgorithm{ctr128},
			err: "config: vpn v: ike-proposal 2: enc-alg aes128-ctr is for ESP only (RFC 3686), not for the IKE SA"},
		{name: "both ctr in the template", enc: []generated.E_SecgwIke_EncryptionAlgorithm{ctr256, ctr128}, template: true,
			err: "config: vpn v: ike-policy-template t ike-proposal 3: enc-alg aes256-ctr, aes128-ctr is for ESP only"},
		{name: "ctr and cbc", enc: []generated.E_SecgwIke_EncryptionAlgorithm{ctr128, cbc},
			encr: "[ENCR:AES_CBC/256]", warn: "config: ike-proposal 2: enc-alg aes128-ctr is for ESP only (RFC 3686): left out of the IKE SA proposal"},
		{name: "ctr and an aead", enc: []generated.E_SecgwIke_EncryptionAlgorithm{ctr256}, aead: gcm, template: true,
			encr: "[ENCR:AES_GCM_16/128]", warn: "config: ike-policy-template t ike-proposal 3: enc-alg aes256-ctr is for ESP only"},
		{name: "cbc", enc: []generated.E_SecgwIke_EncryptionAlgorithm{cbc}, encr: "[ENCR:AES_CBC/256]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Config(build(c.enc, c.aead, c.template))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := cfg.VPNs[0]
			if got := fmtList(encs(v.IKEProposals[0])); got != c.encr {
				t.Errorf("IKE proposal encryption %s, want %s", got, c.encr)
			}
			if got := fmtList(encs(v.ESPProposals[0])); got != "[ENCR:AES_CTR/128]" {
				t.Errorf("ESP proposal encryption %s, want AES-CTR kept", got)
			}
			switch {
			case c.warn == "" && len(v.Warnings) != 0:
				t.Errorf("warnings %q, want none", v.Warnings)
			case c.warn != "" && (len(v.Warnings) != 1 || !strings.HasPrefix(v.Warnings[0], c.warn)):
				t.Errorf("warnings %q, want one starting %q", v.Warnings, c.warn)
			}
		})
	}
}
