package config

import (
	"fmt"
	"strings"

	"secgw/generated"
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
		return keyed(wire.EncrAESCBC, 128), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes192_cbc:
		return keyed(wire.EncrAESCBC, 192), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes256_cbc:
		return keyed(wire.EncrAESCBC, 256), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes128_ctr:
		return keyed(wire.EncrAESCTR, 128), nil
	case generated.SecgwIke_EncryptionAlgorithm_aes256_ctr:
		return keyed(wire.EncrAESCTR, 256), nil
	}
	return wire.Transform{}, fmt.Errorf("config: unknown encryption algorithm %v", a)
}

// aeadTransform maps an aead-algorithm to its ENCR transform (RFC 5282 §8,
// RFC 7634 §4: ChaCha20-Poly1305 has no Key Length attribute).
func aeadTransform(a generated.E_SecgwIke_AeadAlgorithm) (wire.Transform, error) {
	type gcm struct {
		id   wire.TransformID
		bits uint16
	}
	m := map[generated.E_SecgwIke_AeadAlgorithm]gcm{
		generated.SecgwIke_AeadAlgorithm_aes128_gcm_64:  {wire.EncrAESGCM8, 128},
		generated.SecgwIke_AeadAlgorithm_aes128_gcm_96:  {wire.EncrAESGCM12, 128},
		generated.SecgwIke_AeadAlgorithm_aes128_gcm_128: {wire.EncrAESGCM16, 128},
		generated.SecgwIke_AeadAlgorithm_aes192_gcm_64:  {wire.EncrAESGCM8, 192},
		generated.SecgwIke_AeadAlgorithm_aes192_gcm_96:  {wire.EncrAESGCM12, 192},
		generated.SecgwIke_AeadAlgorithm_aes192_gcm_128: {wire.EncrAESGCM16, 192},
		generated.SecgwIke_AeadAlgorithm_aes256_gcm_64:  {wire.EncrAESGCM8, 256},
		generated.SecgwIke_AeadAlgorithm_aes256_gcm_96:  {wire.EncrAESGCM12, 256},
		generated.SecgwIke_AeadAlgorithm_aes256_gcm_128: {wire.EncrAESGCM16, 256},
	}
	if a == generated.SecgwIke_AeadAlgorithm_chacha20_poly1305 {
		return wire.Transform{Type: wire.TransformEncr, ID: wire.EncrChaCha20Poly1305}, nil
	}
	if g, ok := m[a]; ok {
		return keyed(g.id, g.bits), nil
	}
	return wire.Transform{}, fmt.Errorf("config: unknown AEAD algorithm %v", a)
}

func keyed(id wire.TransformID, bits uint16) wire.Transform {
	return wire.Transform{Type: wire.TransformEncr, ID: id, Attributes: []wire.TransformAttribute{wire.KeyLengthAttribute(bits)}}
}

// integID maps an integrity-algorithm to its INTEG transform ID (RFC 7296
// §3.3.2, RFC 4868).
func integID(a generated.E_SecgwIke_IntegrityAlgorithm) (wire.TransformID, error) {
	switch a {
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha1:
		return wire.IntegHMACSHA1_96, nil
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha256:
		return wire.IntegHMACSHA2_256_128, nil
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha384:
		return wire.IntegHMACSHA2_384_192, nil
	case generated.SecgwIke_IntegrityAlgorithm_hmac_sha512:
		return wire.IntegHMACSHA2_512_256, nil
	}
	return 0, fmt.Errorf("config: unknown integrity algorithm %v", a)
}

// prfForInteg is the PRF "of the same hash" used when an IKE proposal with
// an auth-alg lists no prf-alg (secgw-ike-vpn.yang, prf-alg).
func prfForInteg(id wire.TransformID) wire.TransformID {
	switch id {
	case wire.IntegHMACSHA1_96:
		return wire.PRFHMACSHA1
	case wire.IntegHMACSHA2_384_192:
		return wire.PRFHMACSHA2_384
	case wire.IntegHMACSHA2_512_256:
		return wire.PRFHMACSHA2_512
	}
	return wire.PRFHMACSHA2_256
}

// prfID maps a prf-algorithm to its PRF transform ID.
func prfID(a generated.E_SecgwIke_PrfAlgorithm) (wire.TransformID, error) {
	switch a {
	case generated.SecgwIke_PrfAlgorithm_hmac_sha1:
		return wire.PRFHMACSHA1, nil
	case generated.SecgwIke_PrfAlgorithm_hmac_sha256:
		return wire.PRFHMACSHA2_256, nil
	case generated.SecgwIke_PrfAlgorithm_hmac_sha384:
		return wire.PRFHMACSHA2_384, nil
	case generated.SecgwIke_PrfAlgorithm_hmac_sha512:
		return wire.PRFHMACSHA2_512, nil
	}
	return 0, fmt.Errorf("config: unknown PRF %v", a)
}

// groupID maps a dh-group to its Key Exchange Method ID; the YANG value is
// the IANA number (secgw-types.yang, dh-group).
func groupID(g generated.E_SecgwIke_DhGroup) (wire.TransformID, error) {
	switch g {
	case generated.SecgwIke_DhGroup_modp1024:
		return wire.GroupMODP1024, nil
	case generated.SecgwIke_DhGroup_modp1536:
		return wire.GroupMODP1536, nil
	case generated.SecgwIke_DhGroup_modp2048:
		return wire.GroupMODP2048, nil
	case generated.SecgwIke_DhGroup_modp3072:
		return wire.GroupMODP3072, nil
	case generated.SecgwIke_DhGroup_modp4096:
		return wire.GroupMODP4096, nil
	case generated.SecgwIke_DhGroup_ecp256:
		return wire.GroupECP256, nil
	case generated.SecgwIke_DhGroup_ecp384:
		return wire.GroupECP384, nil
	case generated.SecgwIke_DhGroup_ecp521:
		return wire.GroupECP521, nil
	case generated.SecgwIke_DhGroup_curve25519:
		return wire.GroupCurve25519, nil
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
}

// proposal builds the wire proposal number num of protocol p from a: ENCR,
// PRF (IKE only), INTEG, KE and ESN (ESP only) transforms, each list in the
// configured order of preference (RFC 7296 §3.3.2).
func (a algs) proposal(num uint8, p wire.ProtocolID) (wire.Proposal, error) {
	out := wire.Proposal{Number: num, Protocol: p}
	add := func(t wire.TransformType, id wire.TransformID) {
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
	var integs []wire.TransformID
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
			add(wire.TransformPRF, id)
		}
		if len(a.Prf) == 0 {
			for _, id := range integs {
				add(wire.TransformPRF, prfForInteg(id))
			}
		}
	}
	for _, id := range integs {
		add(wire.TransformInteg, id)
	}
	for _, g := range a.DH {
		id, err := groupID(g)
		if err != nil {
			return out, err
		}
		add(wire.TransformKE, id)
	}
	if p == wire.ProtocolESP {
		if len(a.ESN) == 0 {
			add(wire.TransformESN, wire.ESNDisabled)
		}
		for _, on := range a.ESN {
			if on {
				add(wire.TransformESN, wire.ESNEnabled)
			} else {
				add(wire.TransformESN, wire.ESNDisabled)
			}
		}
	}
	if len(out.Transforms) == 0 {
		return out, fmt.Errorf("config: proposal %d has no algorithm", num)
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
