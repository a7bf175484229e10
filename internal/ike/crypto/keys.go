package crypto

import (
	"crypto/hmac"
	"encoding/binary"
	"fmt"

	"secgw/internal/ike/wire"
)

// IKEKeys are the seven secrets of an IKE SA (RFC 7296 §2.14):
//
//	{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//	                = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
//
// With an AEAD, SK_ai and SK_ar are empty and SK_ei/SK_er end with the
// 4-octet salt (RFC 5282 §7.1, RFC 7634 §2). "i" is the original initiator
// of the IKE SA; after an IKE SA rekey it is the initiator of the rekeying
// exchange (RFC 7296 §2.18).
type IKEKeys struct {
	SKd  []byte // derives Child SA keys and the next IKE SA's SKEYSEED
	SKai []byte // integrity, initiator to responder
	SKar []byte // integrity, responder to initiator
	SKei []byte // encryption, initiator to responder
	SKer []byte // encryption, responder to initiator
	SKpi []byte // initiator's AUTH payload (RFC 7296 §2.15)
	SKpr []byte // responder's AUTH payload (RFC 7296 §2.15)
}

// SKEYSEED returns prf(Ni | Nr, g^ir) for a new IKE SA (RFC 7296 §2.14).
// ni and nr are the nonces without payload headers and gir the shared
// secret from DH.SharedSecret.
//
// RFC 7296 §2.14 keys SKEYSEED with only the first 64 bits of each nonce
// when the PRF is AES-XCBC-PRF-128 or AES-CMAC-PRF-128, the PRFs with a
// fixed key size; every PRF this package supports is HMAC, which takes the
// whole of Ni | Nr.
func SKEYSEED(prf PRF, ni, nr, gir []byte) []byte {
	key := make([]byte, 0, len(ni)+len(nr))
	key = append(append(key, ni...), nr...)
	return prf.sum(key, gir)
}

// RekeySKEYSEED returns prf(SK_d (old), g^ir (new) | Ni | Nr), the
// SKEYSEED of an IKE SA created by rekeying (RFC 7296 §2.18). oldPRF is the
// PRF of the IKE SA being rekeyed: "because the rekeying exchange belongs
// to the old IKE SA, it is the old IKE SA's PRF that is used to generate
// SKEYSEED". The new SA's keys then come from DeriveIKEKeys with the new
// suite, the nonces of the CREATE_CHILD_SA exchange and the new SPIs.
func RekeySKEYSEED(oldPRF PRF, oldSKd, gir, ni, nr []byte) []byte {
	return oldPRF.sum(oldSKd, gir, ni, nr)
}

// DeriveIKEKeys expands SKEYSEED into the IKE SA keys with the lengths of
// Suite s, using the suite's PRF (RFC 7296 §2.14): SK_d, SK_pi and SK_pr
// are as long as the PRF's preferred key, SK_a* as the integrity key and
// SK_e* as the encryption key plus salt.
func DeriveIKEKeys(s Suite, skeyseed, ni, nr []byte, spii, spir uint64) (*IKEKeys, error) {
	kl, err := s.IKEKeyLengths()
	if err != nil {
		return nil, err
	}
	prf, err := s.NewPRF()
	if err != nil {
		return nil, err
	}
	seed := make([]byte, 0, len(ni)+len(nr)+16)
	seed = append(append(seed, ni...), nr...)
	seed = binary.BigEndian.AppendUint64(seed, spii)
	seed = binary.BigEndian.AppendUint64(seed, spir)
	km, err := prf.PlusExpand(skeyseed, seed, 3*kl.PRF+2*kl.Integ+2*kl.Encr)
	if err != nil {
		return nil, err
	}
	var k IKEKeys
	for _, f := range []struct {
		dst *[]byte
		n   int
	}{
		{&k.SKd, kl.PRF}, {&k.SKai, kl.Integ}, {&k.SKar, kl.Integ},
		{&k.SKei, kl.Encr}, {&k.SKer, kl.Encr}, {&k.SKpi, kl.PRF}, {&k.SKpr, kl.PRF},
	} {
		*f.dst, km = km[:f.n:f.n], km[f.n:]
	}
	return &k, nil
}

// NewIKEKeys computes SKEYSEED (RFC 7296 §2.14) and the IKE SA keys for a
// new IKE SA from the IKE_SA_INIT exchange.
func NewIKEKeys(s Suite, gir, ni, nr []byte, spii, spir uint64) (*IKEKeys, error) {
	prf, err := s.NewPRF()
	if err != nil {
		return nil, err
	}
	seed := SKEYSEED(prf, ni, nr, gir)
	defer clear(seed)
	return DeriveIKEKeys(s, seed, ni, nr, spii, spir)
}

// RekeyIKEKeys computes the keys of the IKE SA that replaces one whose
// PRF is oldPRF and whose SK_d is oldSKd (RFC 7296 §2.18). s is the new
// suite, gir the new shared secret, ni and nr the CREATE_CHILD_SA nonces
// and spii, spir the new SPIs.
func RekeyIKEKeys(oldPRF PRF, oldSKd []byte, s Suite, gir, ni, nr []byte, spii, spir uint64) (*IKEKeys, error) {
	seed := RekeySKEYSEED(oldPRF, oldSKd, gir, ni, nr)
	defer clear(seed)
	return DeriveIKEKeys(s, seed, ni, nr, spii, spir)
}

// ApplyPPK mixes a Post-quantum Preshared Key into the keys after
// IKE_SA_INIT, replacing SK_d, SK_pi and SK_pr (RFC 8784 §3):
//
//	SK_d'  = prf+ (PPK, SK_d)
//	SK_pi' = prf+ (PPK, SK_pi)
//	SK_pr' = prf+ (PPK, SK_pr)
//
// Each new key is as long as the one it replaces. prf is the IKE SA's PRF.
// The old values are zeroed. When the responder may fall back to not using
// the PPK (RFC 8784 §3, NO_PPK_AUTH), keep a copy of SK_pi/SK_pr first.
func (k *IKEKeys) ApplyPPK(prf PRF, ppk []byte) error {
	for _, key := range []*[]byte{&k.SKd, &k.SKpi, &k.SKpr} {
		next, err := prf.PlusExpand(ppk, *key, len(*key))
		if err != nil {
			return err
		}
		clear(*key)
		*key = next
	}
	return nil
}

// Ciphers returns the SK payload ciphers of the IKE SA with Suite s: out
// protects the messages we send, in opens those we receive. initiator
// tells whether we are the original initiator of the IKE SA (RFC 7296
// §2.14: SK_ei/SK_ai protect the initiator's messages).
func (k *IKEKeys) Ciphers(s Suite, initiator bool) (out, in SKCipher, err error) {
	i, err := NewSKCipher(s, k.SKei, k.SKai)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewSKCipher(s, k.SKer, k.SKar)
	if err != nil {
		return nil, nil, err
	}
	if initiator {
		return i, r, nil
	}
	return r, i, nil
}

// Clear zeroes all the keys.
func (k *IKEKeys) Clear() {
	for _, b := range [][]byte{k.SKd, k.SKai, k.SKar, k.SKei, k.SKer, k.SKpi, k.SKpr} {
		clear(b)
	}
}

// ChildKeys are the keys of the pair of ESP SAs of a Child SA, in the
// order KEYMAT yields them (RFC 7296 §2.17): the SA carrying data from the
// initiator to the responder first, and within each SA the encryption key
// (with its salt for AES-GCM, AES-CTR and ChaCha20-Poly1305) before the
// integrity key. "Initiator" is the initiator of the exchange that created
// the Child SA.
type ChildKeys struct {
	EncrI  []byte // encryption, initiator to responder
	IntegI []byte // integrity, initiator to responder; empty with an AEAD
	EncrR  []byte // encryption, responder to initiator
	IntegR []byte // integrity, responder to initiator; empty with an AEAD
}

// DeriveChildKeys computes the Child SA keys (RFC 7296 §2.17):
//
//	KEYMAT = prf+ (SK_d, Ni | Nr)                 without PFS
//	KEYMAT = prf+ (SK_d, g^ir (new) | Ni | Nr)     with a KE exchange
//
// prf and skd are the IKE SA's PRF and SK_d, esp the Child SA's suite
// (see NewESPSuite), gir the CREATE_CHILD_SA shared secret or nil, and
// ni, nr the nonces of the exchange (of IKE_SA_INIT for the Child SA
// created by IKE_AUTH).
func DeriveChildKeys(prf PRF, skd []byte, esp Suite, gir, ni, nr []byte) (*ChildKeys, error) {
	kl, err := esp.ESPKeyLengths()
	if err != nil {
		return nil, err
	}
	seed := make([]byte, 0, len(gir)+len(ni)+len(nr))
	seed = append(append(append(seed, gir...), ni...), nr...)
	km, err := prf.PlusExpand(skd, seed, 2*(kl.Encr+kl.Integ))
	clear(seed)
	if err != nil {
		return nil, fmt.Errorf("crypto: Child SA KEYMAT: %w", err)
	}
	var k ChildKeys
	for _, f := range []struct {
		dst *[]byte
		n   int
	}{{&k.EncrI, kl.Encr}, {&k.IntegI, kl.Integ}, {&k.EncrR, kl.Encr}, {&k.IntegR, kl.Integ}} {
		*f.dst, km = km[:f.n:f.n], km[f.n:]
	}
	return &k, nil
}

// Clear zeroes all the keys.
func (k *ChildKeys) Clear() {
	for _, b := range [][]byte{k.EncrI, k.IntegI, k.EncrR, k.IntegR} {
		clear(b)
	}
}

// keyPad is the fixed string of the shared-key AUTH computation, 17 ASCII
// octets without a terminating NUL (RFC 7296 §2.15).
const keyPad = "Key Pad for IKEv2"

// AuthPSK returns the Authentication Data of an AUTH payload with the
// Shared Key Message Integrity Code method (RFC 7296 §2.15):
//
//	AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
//
// prf is the IKE SA's PRF and signedOctets comes from SignedOctets. With
// EAP (RFC 7296 §2.16) the Shared Secret is the MSK, or SK_pi/SK_pr if the
// EAP method produced none.
func AuthPSK(prf PRF, psk, signedOctets []byte) []byte {
	k := prf.sum(psk, []byte(keyPad))
	defer clear(k)
	return prf.sum(k, signedOctets)
}

// VerifyAuthPSK reports in constant time whether auth is the
// Authentication Data AuthPSK computes.
func VerifyAuthPSK(prf PRF, psk, signedOctets, auth []byte) bool {
	return hmac.Equal(AuthPSK(prf, psk, signedOctets), auth)
}

// SignedOctets returns the octets an AUTH payload signs (RFC 7296 §2.15):
//
//	InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
//	MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
//
// and symmetrically for the responder with RealMessage2, NonceIData and
// SK_pr. To compute our AUTH, pass our IKE_SA_INIT message exactly as we
// sent it, the peer's Nonce Data, our SK_p and our ID; to verify the peer's,
// its IKE_SA_INIT message exactly as received, our Nonce Data, its SK_p and
// its ID. idBody is the ID payload body without the generic payload header:
// ID Type, the three RESERVED octets as sent and the Identification Data,
// which is what wire.Identification.AppendBody produces. RFC 9242
// (IKE_INTERMEDIATE) appends further octets; the caller adds them.
func SignedOctets(prf PRF, skp, realMessage, peerNonce, idBody []byte) []byte {
	mac := prf.sum(skp, idBody)
	out := make([]byte, 0, len(realMessage)+len(peerNonce)+len(mac))
	out = append(append(append(out, realMessage...), peerNonce...), mac...)
	return out
}

// AdditionalKEKeys returns the keys of an IKE SA after an additional key
// exchange n in an IKE_INTERMEDIATE exchange (RFC 9370 §2.2.2):
//
//	SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)
//	{SK_d(n) | SK_ai(n) | SK_ar(n) | SK_ei(n) | SK_er(n) | SK_pi(n) | SK_pr(n)}
//	        = prf+ (SKEYSEED(n), Ni | Nr | SPIi | SPIr)
//
// prf is the IKE SA's PRF, skd its SK_d(n-1), sk the shared secret of
// key exchange n, and ni, nr, spii, spir those of IKE_SA_INIT. It is the
// rekey derivation of RFC 7296 §2.18 with SK(n) for g^ir and the SA's own
// SPIs.
func AdditionalKEKeys(prf PRF, skd []byte, s Suite, sk, ni, nr []byte, spii, spir uint64) (*IKEKeys, error) {
	return RekeyIKEKeys(prf, skd, s, sk, ni, nr, spii, spir)
}

// IntAuth returns one link of the IKE_INTERMEDIATE authentication chain
// (RFC 9242 §3.3.2):
//
//	IntAuth_[i|r]1 = prf(SK_p[i|r]1,                 IntAuth_[i|r]1A [| IntAuth_[i|r]1P])
//	IntAuth_[i|r]n = prf(SK_p[i|r]n, IntAuth_[i|r]n-1 | IntAuth_[i|r]nA [| IntAuth_[i|r]nP])
//
// skp is the SK_pi (initiator's messages) or SK_pr (responder's) of the
// keys that protected the message, prev the previous link (nil for the
// first), a the message's IKE header and SK payload header with the
// lengths they would have unencrypted and unfragmented, and p its inner
// payloads in clear.
func IntAuth(prf PRF, skp, prev, a, p []byte) []byte {
	return prf.sum(skp, prev, a, p)
}

// IntAuthA returns IntAuth_[i|r]*A of an IKE_INTERMEDIATE message without
// unprotected payloads (RFC 9242 §3.3.2): its IKE header and the header of
// its Encrypted payload, with the lengths the message would have without
// IV, padding and ICV and unfragmented: the Length of the IKE header counts
// the headers and the inner payloads, the Payload Length of the SK payload
// its header and the inner payloads, and the IKE header's Next Payload is
// SK also for a message that was sent in SKF fragments. h is the message's
// header as sent or received, first the type of its first inner payload
// and plainLen the length of its inner payloads.
func IntAuthA(h wire.Header, first wire.PayloadType, plainLen int) []byte {
	const skHeaderLen = 4 // RFC 7296 §3.14
	h.NextPayload = wire.PayloadSK
	h.Length = uint32(wire.HeaderLen + skHeaderLen + plainLen)
	b := h.Append(make([]byte, 0, wire.HeaderLen+skHeaderLen))
	b = append(b, byte(first), 0)
	return binary.BigEndian.AppendUint16(b, uint16(skHeaderLen+plainLen))
}

// AppendIntAuth appends to the signed octets of an AUTH payload
// (SignedOctets), after IKE_INTERMEDIATE exchanges, IntAuth = IntAuth_iN |
// IntAuth_rN | IKE_AUTH_MID (RFC 9242 §3.3.2): the last links of the two
// chains and the Message ID of the IKE_AUTH request in four octets.
func AppendIntAuth(so, intAuthI, intAuthR []byte, authMID uint32) []byte {
	so = append(append(so, intAuthI...), intAuthR...)
	return binary.BigEndian.AppendUint32(so, authMID)
}
