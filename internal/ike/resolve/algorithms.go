package resolve

import (
	"fmt"
	"secgw/internal/ipsec"
	"strings"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// The generated enum constants are the YANG enum values plus one (ygot
// reserves 0 for UNSET; see ΛEnum in generated/secgw.go), so the mappings
// below switch on the named constants rather than doing arithmetic.

// encrTransform maps an encryption-algorithm to its ENCR transform (RFC 7296
// §3.3.2, §3.3.5).
func encrTransform(a generated.E_SecgwIke_EncryptionAlgorithm) (wire.Transform, error) {
	switch a {
	case generated.SecgwIke_EncryptionAlgorithm_aes128_cbc:
		return config.EncrTransform(ipsec.EncrAESCBC, 128), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes192_cbc:
		return config.EncrTransform(ipsec.EncrAESCBC, 192), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes256_cbc:
		return config.EncrTransform(ipsec.EncrAESCBC, 256), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes128_ctr:
		return config.EncrTransform(ipsec.EncrAESCTR, 128), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes256_ctr:
		return config.EncrTransform(ipsec.EncrAESCTR, 256), nil
	}
	return wire.Transform{}, fmt.Errorf("config: unknown encryption algorithm %v", a)
}

// aeadTransform maps an aead-algorithm to its ENCR transform (RFC 5282 §8,
// RFC 7634 §4: ChaCha20-Poly1305 has no Key Length attribute).
func aeadTransform(a generated.E_SecgwIke_AeadAlgorithm) (wire.Transform, error) {
	type gcm struct {
		id   ipsec.TransformID
		bits uint16
	}
	m := map[generated.E_SecgwIke_AeadAlgorithm]gcm{
		generated.SecgwIke_AeadAlgorithm_aes128_gcm_64:  {ipsec.EncrAESGCM8, 128},
		generated.SecgwIke_AeadAlgorithm_aes128_gcm_96:  {ipsec.EncrAESGCM12, 128},
		generated.SecgwIke_AeadAlgorithm_aes128_gcm_128: {ipsec.EncrAESGCM16, 128},
		generated.SecgwIke_AeadAlgorithm_aes192_gcm_64:  {ipsec.EncrAESGCM8, 192},
		generated.SecgwIke_AeadAlgorithm_aes192_gcm_96:  {ipsec.EncrAESGCM12, 192},
		generated.SecgwIke_AeadAlgorithm_aes192_gcm_128: {ipsec.EncrAESGCM16, 192},
		generated.SecgwIke_AeadAlgorithm_aes256_gcm_64:  {ipsec.EncrAESGCM8, 256},
		generated.SecgwIke_AeadAlgorithm_aes256_gcm_96:  {ipsec.EncrAESGCM12, 256},
		generated.SecgwIke_AeadAlgorithm_aes256_gcm_128: {ipsec.EncrAESGCM16, 256},
	}
	if a == generated.SecgwIke_AeadAlgorithm_chacha20_poly1305 {
		return wire.Transform{Type: ipsec.TransformEncr, ID: ipsec.EncrChaCha20Poly1305}, nil
	}
	if g, ok := m[a]; ok {
		return config.EncrTransform(g.id, g.bits), nil
	}
	return wire.Transform{}, fmt.Errorf("config: unknown AEAD algorithm %v", a)
}

// integID maps an integrity-algorithm to its INTEG transform ID (RFC 7296
// §3.3.2, RFC 4868).
func integID(a generated.E_SecgwIke_IntegrityAlgorithm) (ipsec.TransformID, error) {
	switch a {
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha1:
		return ipsec.IntegHMACSHA1_96, nil
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha256:
		return ipsec.IntegHMACSHA2_256_128, nil
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha384:
		return ipsec.IntegHMACSHA2_384_192, nil
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha512:
		return ipsec.IntegHMACSHA2_512_256, nil
	}
	return 0, fmt.Errorf("config: unknown integrity algorithm %v", a)
}

// prfForInteg is the PRF "of the same hash" used when an IKE proposal with
// an auth-alg lists no prf-alg (secgw-ike-vpn.yang, prf-alg).
func prfForInteg(id ipsec.TransformID) ipsec.TransformID {
	switch id {
	case ipsec.IntegHMACSHA1_96:
		return ipsec.PRFHMACSHA1
	case ipsec.IntegHMACSHA2_384_192:
		return ipsec.PRFHMACSHA2_384
	case ipsec.IntegHMACSHA2_512_256:
		return ipsec.PRFHMACSHA2_512
	}
	return ipsec.PRFHMACSHA2_256
}

// prfID maps a prf-algorithm to its PRF transform ID.
func prfID(a generated.E_SecgwIke_PrfAlgorithm) (ipsec.TransformID, error) {
	switch a {
	case generated.SecgwIke_PrfAlgorithm_hmac_sha1:
		return ipsec.PRFHMACSHA1, nil
	case generated.SecgwIke_PrfAlgorithm_hmac_sha256:
		return ipsec.PRFHMACSHA2_256, nil
	case generated.SecgwIke_PrfAlgorithm_hmac_sha384:
		return ipsec.PRFHMACSHA2_384, nil
	case generated.SecgwIke_PrfAlgorithm_hmac_sha512:
		return ipsec.PRFHMACSHA2_512, nil
	}
	return 0, fmt.Errorf("config: unknown PRF %v", a)
}

// groupID maps a dh-group to its Key Exchange Method ID; the YANG value is
// the IANA number (secgw-types.yang, dh-group).
func groupID(g generated.E_SecgwIke_DhGroup) (ipsec.TransformID, error) {
	switch g {
	case generated.SecgwIke_DhGroup_modp1024:
		return ipsec.GroupMODP1024, nil
	case generated.SecgwIke_DhGroup_modp1536:
		return ipsec.GroupMODP1536, nil
	case generated.SecgwIke_DhGroup_modp2048:
		return ipsec.GroupMODP2048, nil
	case generated.SecgwIke_DhGroup_modp3072:
		return ipsec.GroupMODP3072, nil
	case generated.SecgwIke_DhGroup_modp4096:
		return ipsec.GroupMODP4096, nil
	case generated.SecgwIke_DhGroup_ecp256:
		return ipsec.GroupECP256, nil
	case generated.SecgwIke_DhGroup_ecp384:
		return ipsec.GroupECP384, nil
	case generated.SecgwIke_DhGroup_ecp521:
		return ipsec.GroupECP521, nil
	case generated.SecgwIke_DhGroup_curve25519:
		return ipsec.GroupCurve25519, nil
	}
	return 0, fmt.Errorf("config: unknown DH group %v", g)
}

// algs is a proposal as configured, common to the VPN and template structs.
type algs struct {
	ID   uint8 // the proposal's id, for messages
	Enc  []generated.E_SecgwIke_EncryptionAlgorithm
	Auth []generated.E_SecgwIke_IntegrityAlgorithm
	Aead []generated.E_SecgwIke_AeadAlgorithm
	Prf  []generated.E_SecgwIke_PrfAlgorithm
	DH   []generated.E_SecgwIke_DhGroup
	ESN  []bool
	// AddKE are additional-key-exchange-1..7 (RFC 9370 ADDKE1..7).
	AddKE [7][]generated.E_SecgwIke_KeyExchange
}

// proposal builds the wire proposal number num of protocol p from a: ENCR,
// PRF (IKE only), INTEG, KE and ESN (ESP only) transforms, each list in the
// configured order of preference (RFC 7296 §3.3.2).
func (a algs) proposal(num uint8, p wire.ProtocolID) (wire.Proposal, error) {
	out := wire.Proposal{Number: num, Protocol: p}
	add := func(t ipsec.TransformType, id ipsec.TransformID) {
		for _, x := range out.Transforms {
			if x.Type == t && x.ID == id && len(x.Attributes) == 0 {
				return
			}
		}
		out.Transforms = append(out.Transforms, wire.Transform{Type: t, ID: id})
	}
	for _, e := range a.Aead {
		t, err := aeadTransform(e)
		if err != nil {
			return out, err
		}
		out.Transforms = append(out.Transforms, t)
	}
	for _, e := range a.Enc {
		t, err := encrTransform(e)
		if err != nil {
			return out, err
		}
		out.Transforms = append(out.Transforms, t)
	}
	var integs []ipsec.TransformID
	for _, e := range a.Auth {
		id, err := integID(e)
		if err != nil {
			return out, err
		}
		integs = append(integs, id)
	}
	if p == wire.ProtocolIKE {
		for _, e := range a.Prf {
			id, err := prfID(e)
			if err != nil {
				return out, err
			}
			add(ipsec.TransformPRF, id)
		}
		if len(a.Prf) == 0 {
			for _, id := range integs {
				add(ipsec.TransformPRF, prfForInteg(id))
			}
		}
	}
	for _, id := range integs {
		add(ipsec.TransformInteg, id)
	}
	for _, g := range a.DH {
		id, err := groupID(g)
		if err != nil {
			return out, err
		}
		add(ipsec.TransformKE, id)
	}
	for i, list := range a.AddKE {
		for _, k := range list {
			id, err := keID(k)
			if err != nil {
				return out, err
			}
			add(ipsec.TransformAddKE1+ipsec.TransformType(i), id)
		}
	}
	if p == wire.ProtocolESP {
		if len(a.ESN) == 0 {
			add(ipsec.TransformESN, ipsec.ESNDisabled)
		}
		for _, on := range a.ESN {
			if on {
				add(ipsec.TransformESN, ipsec.ESNEnabled)
			} else {
				add(ipsec.TransformESN, ipsec.ESNDisabled)
			}
		}
	}
	if len(out.Transforms) == 0 {
		return out, fmt.Errorf("config: proposal %d has no algorithm", num)
	}
	return out, nil
}

// proposals builds the wire proposals of protocol p from a, numbered from 1.
func proposals(a []algs, p wire.ProtocolID) ([]wire.Proposal, error) {
	var out []wire.Proposal
	for i, x := range a {
		pr, err := x.proposal(uint8(i+1), p)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// espOnlyEncr names the encryption algorithms of the model that only ESP
// has here: AES-CTR (RFC 3686). RFC 5930 defines it for the IKE SA too,
// but ike/crypto does not implement it for the SK payload, so an IKE SA
// that negotiated it could not be set up.
func espOnlyEncr(a generated.E_SecgwIke_EncryptionAlgorithm) (string, bool) {
	switch a {
	case generated.SecgwIke_EncryptionAlgorithm_aes128_ctr:
		return "aes128-ctr", true
	case generated.SecgwIke_EncryptionAlgorithm_aes256_ctr:
		return "aes256-ctr", true
	}
	return "", false
}

// dropESPOnly takes the ESP-only encryption algorithms out of an IKE
// proposal (where names it: "ike-proposal" or the template's). A proposal
// that keeps another encryption or AEAD algorithm loses them with a
// warning: it still negotiates what it can, as it did when a peer picked
// the other algorithm, and a running configuration that was accepted
// still loads at start. A proposal left with none could never set up an
// IKE SA: it is an error, so that the commit is refused with the reason.
func (a *algs) dropESPOnly(where string) (warnings []string, err error) {
	var dropped []string
	kept := a.Enc[:0:0]
	for _, e := range a.Enc {
		if name, ok := espOnlyEncr(e); ok {
			dropped = append(dropped, name)
			continue
		}
		kept = append(kept, e)
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	names := strings.Join(dropped, ", ")
	if len(kept) == 0 && len(a.Aead) == 0 {
		return nil, fmt.Errorf("%s %d: enc-alg %s is for ESP only (RFC 3686), not for the IKE SA: "+
			"list an AES-CBC enc-alg or an aead-alg", where, a.ID, names)
	}
	a.Enc = kept
	return []string{fmt.Sprintf("config: %s %d: enc-alg %s is for ESP only (RFC 3686): left out of the IKE SA proposal",
		where, a.ID, names)}, nil
}

// keID maps a key-exchange (additional-key-exchange-N) to its Key
// Exchange Method ID; the YANG value is the IANA number
// (secgw-types.yang, key-exchange), none is NONE (RFC 9370 §2.2.1).
func keID(k generated.E_SecgwIke_KeyExchange) (ipsec.TransformID, error) {
	switch k {
	case generated.SecgwIke_KeyExchange_none:
		return ipsec.GroupNone, nil
	case generated.SecgwIke_KeyExchange_modp2048:
		return ipsec.GroupMODP2048, nil
	case generated.SecgwIke_KeyExchange_modp3072:
		return ipsec.GroupMODP3072, nil
	case generated.SecgwIke_KeyExchange_modp4096:
		return ipsec.GroupMODP4096, nil
	case generated.SecgwIke_KeyExchange_ecp256:
		return ipsec.GroupECP256, nil
	case generated.SecgwIke_KeyExchange_ecp384:
		return ipsec.GroupECP384, nil
	case generated.SecgwIke_KeyExchange_ecp521:
		return ipsec.GroupECP521, nil
	case generated.SecgwIke_KeyExchange_curve25519:
		return ipsec.GroupCurve25519, nil
	case generated.SecgwIke_KeyExchange_mlkem768:
		return ipsec.GroupMLKEM768, nil
	case generated.SecgwIke_KeyExchange_mlkem1024:
		return ipsec.GroupMLKEM1024, nil
	}
	return 0, fmt.Errorf("config: unknown key exchange %v", k)
}

// addKESource is a proposal list entry of the model with
// additional-key-exchange-1..7: the ike-proposal and esp-proposal of a
// VPN and of a template.
type addKESource interface {
	GetAdditionalKeyExchange_1() []generated.E_SecgwIke_KeyExchange
	GetAdditionalKeyExchange_2() []generated.E_SecgwIke_KeyExchange
	GetAdditionalKeyExchange_3() []generated.E_SecgwIke_KeyExchange
	GetAdditionalKeyExchange_4() []generated.E_SecgwIke_KeyExchange
	GetAdditionalKeyExchange_5() []generated.E_SecgwIke_KeyExchange
	GetAdditionalKeyExchange_6() []generated.E_SecgwIke_KeyExchange
	GetAdditionalKeyExchange_7() []generated.E_SecgwIke_KeyExchange
}

// addKEOf returns the additional key exchanges of a proposal entry.
func addKEOf(p addKESource) [7][]generated.E_SecgwIke_KeyExchange {
	return [7][]generated.E_SecgwIke_KeyExchange{
		p.GetAdditionalKeyExchange_1(), p.GetAdditionalKeyExchange_2(), p.GetAdditionalKeyExchange_3(),
		p.GetAdditionalKeyExchange_4(), p.GetAdditionalKeyExchange_5(), p.GetAdditionalKeyExchange_6(),
		p.GetAdditionalKeyExchange_7(),
	}
}

// KeyExchangeEnums maps additional key exchange methods back to the YANG
// enums (secgw-ike-state.yang, additional-key-exchange) through keID, as
// EnumsOf does for a suite; unknown ones are left out.
func KeyExchangeEnums(ids []ipsec.TransformID) []generated.E_SecgwIke_KeyExchange {
	var out []generated.E_SecgwIke_KeyExchange
	for _, id := range ids {
		for v := range generated.E_SecgwIke_KeyExchange(64) {
			if k, err := keID(v); err == nil && k == id && v != generated.SecgwIke_KeyExchange_none {
				out = append(out, v)
				break
			}
		}
	}
	return out
}
