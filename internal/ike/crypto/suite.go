// Package crypto implements the cryptographic suites of the IKEv2 engine:
// key exchange (RFC 7296 §3.4, RFC 3526, RFC 5903, RFC 8031), the
// pseudorandom functions and prf+ (RFC 7296 §2.13, RFC 4868), integrity
// algorithms (RFC 2404, RFC 4868), the ciphers that protect the Encrypted
// payload (RFC 7296 §3.14, RFC 5282, RFC 7634), key derivation for IKE and
// Child SAs (RFC 7296 §2.14, §2.17, §2.18, RFC 8784) and shared-key AUTH
// (RFC 7296 §2.15).
//
// The package name clashes with the standard library's crypto package;
// import it under another name:
//
//	import ikecrypto "secgw/internal/ike/crypto"
//
// A typical IKE SA setup, once IKE_SA_INIT has negotiated a proposal:
//
//	suite, err := ikecrypto.NewIKESuite(encr, keyBits, integ, prf, group)
//	dh, err := ikecrypto.NewDH(suite.Group, nil)       // our KE payload: dh.PublicKey()
//	gir, err := dh.SharedSecret(peerKE)                 // the peer's KE payload data
//	keys, err := ikecrypto.NewIKEKeys(suite, gir, ni, nr, spii, spir)
//	out, in, err := keys.Ciphers(suite, initiator)      // SK payload protection
//
// Algorithm identifiers are the IANA Transform IDs of package
// secgw/internal/ike/wire.
//
// Every error returned by this package has a message starting with
// "crypto: ". Decryption failures wrap ErrAuthFailed or ErrMalformed so
// that the engine can tell them apart with errors.Is; in both cases the
// message is not authentic and must be dropped without being processed.
package crypto

import (
	"errors"
	"fmt"
	"secgw/internal/ipsec"
	"strconv"
	"strings"
)

// ErrAuthFailed is returned (possibly wrapped) by SKCipher.Open when the
// Integrity Checksum Data or the AEAD tag does not verify. RFC 7296 §3.14:
// the message is discarded.
var ErrAuthFailed = errors.New("crypto: integrity check failed")

// ErrMalformed is returned (possibly wrapped) by SKCipher.Open when the
// Encrypted payload body is too short, is not aligned to the cipher block,
// or carries a Pad Length that does not fit in the decrypted data
// (RFC 7296 §3.14).
var ErrMalformed = errors.New("crypto: malformed encrypted payload")

// ErrInvalidPublicKey is returned (possibly wrapped) by DH.SharedSecret when
// the peer's Key Exchange Data has the wrong length or is not a valid
// element of the group (RFC 6989, RFC 5903 §7, RFC 8031 §2.2).
var ErrInvalidPublicKey = errors.New("crypto: invalid peer key exchange data")

// ErrUnsupported is returned (possibly wrapped) for a transform ID, key
// length or combination of transforms that the package does not implement
// or that the RFCs forbid.
var ErrUnsupported = errors.New("crypto: unsupported algorithm")

// Suite is a negotiated set of transforms: the chosen transform of each
// type from one proposal (RFC 7296 §3.3). For an IKE SA all of Encr, PRF
// and Group are set, and Integ unless Encr is an AEAD. For a Child SA
// (ESP) PRF is unused and Group is GroupNone unless the CREATE_CHILD_SA
// exchange carried a KE payload (PFS, RFC 7296 §1.3.1).
//
// Build a Suite with NewIKESuite or NewESPSuite, which validate it; the
// functions that take a Suite validate it again.
type Suite struct {
	// Encr is the encryption algorithm (Transform Type 1).
	Encr ipsec.TransformID
	// KeyBits is the Key Length attribute in bits (RFC 7296 §3.3.5), or 0
	// when the transform carries none (ChaCha20-Poly1305, NULL).
	KeyBits int
	// Integ is the integrity algorithm (Transform Type 3); IntegNone with
	// an AEAD.
	Integ ipsec.TransformID
	// PRF is the pseudorandom function (Transform Type 2); IKE SAs only.
	PRF ipsec.TransformID
	// Group is the key exchange method (Transform Type 4).
	Group ipsec.TransformID
}

// KeyLengths are the lengths in octets of the keys a Suite needs from
// prf+, per direction (RFC 7296 §2.14, §2.17).
type KeyLengths struct {
	// PRF is the length of SK_d, SK_pi and SK_pr: the PRF's preferred
	// key length. Zero for ESP.
	PRF int
	// Integ is the length of SK_ai/SK_ar or of an ESP integrity key; zero
	// with an AEAD.
	Integ int
	// Encr is the length of SK_ei/SK_er or of an ESP encryption key,
	// including the 4-octet salt of AES-GCM (RFC 5282 §7.1, RFC 4106
	// §8.1), AES-CTR (RFC 3686 §5.1) and ChaCha20-Poly1305 (RFC 7634 §2).
	Encr int
}

// encrInfo describes an encryption transform: which key lengths it takes,
// how many salt octets follow the key, and where it may be used.
type encrInfo struct {
	aead    bool
	keyBits []int // allowed Key Length attribute values; {0} for none
	fixed   int   // key octets when keyBits is {0}
	salt    int   // octets appended to the key
	ike     bool  // usable for the IKE SA's SK payload
	esp     bool  // usable for ESP
}

var aesKeyBits = []int{128, 192, 256}

// encrTable lists the supported encryption transforms.
var encrTable = map[ipsec.TransformID]encrInfo{
	// RFC 4303 / RFC 2410: ESP with NULL encryption, integrity required.
	ipsec.EncrNull: {keyBits: []int{0}, esp: true},
	// RFC 3602; IKEv2 SK payload RFC 7296 §3.14.
	ipsec.EncrAESCBC: {keyBits: aesKeyBits, ike: true, esp: true},
	// RFC 3686 §5.1: the last 4 octets of KEYMAT are the nonce. ESP only
	// here (RFC 5930 defines it for IKEv2 too; not implemented).
	ipsec.EncrAESCTR: {keyBits: aesKeyBits, salt: 4, esp: true},
	// RFC 4106 §8.1 (ESP), RFC 5282 §7.1 (IKEv2): key | 4-octet salt.
	ipsec.EncrAESGCM8:  {aead: true, keyBits: aesKeyBits, salt: 4, ike: true, esp: true},
	ipsec.EncrAESGCM12: {aead: true, keyBits: aesKeyBits, salt: 4, ike: true, esp: true},
	ipsec.EncrAESGCM16: {aead: true, keyBits: aesKeyBits, salt: 4, ike: true, esp: true},
	// RFC 7634 §2, §3: 256-bit key | 4-octet salt, no Key Length attribute.
	ipsec.EncrChaCha20Poly1305: {aead: true, keyBits: []int{0}, fixed: 32, salt: 4, ike: true, esp: true},
}

// NewIKESuite validates the transforms negotiated for an IKE SA and returns
// the Suite. keyBits is the Key Length attribute of the encryption
// transform, 0 if absent. Rules:
//   - Encr is AES-CBC, AES-GCM-8/12/16 or ChaCha20-Poly1305; AES requires
//     a Key Length of 128, 192 or 256 (RFC 3602 §5.3, RFC 4106 §8.4);
//     ChaCha20-Poly1305 has a fixed-length key and so no Key Length
//     attribute (RFC 7296 §3.3.5, RFC 7634 §4).
//   - With an AEAD, Integ must be NONE, i.e. absent (RFC 7296 §3.3:
//     combined-mode ciphers offer no integrity algorithm); otherwise it
//     must be one of the HMAC algorithms (RFC 7296 §3.3.3).
//   - PRF is one of the HMAC PRFs; Group is supported by NewDH.
func NewIKESuite(encr ipsec.TransformID, keyBits int, integ, prf, group ipsec.TransformID) (Suite, error) {
	s := Suite{Encr: encr, KeyBits: keyBits, Integ: integ, PRF: prf, Group: group}
	if _, err := s.IKEKeyLengths(); err != nil {
		return Suite{}, err
	}
	if !SupportedGroup(group) {
		return Suite{}, fmt.Errorf("%w: key exchange method %s", ErrUnsupported, groupName(group))
	}
	return s, nil
}

// NewESPSuite validates the transforms negotiated for an ESP Child SA.
// group is GroupNone without PFS. Besides the IKE ciphers it allows
// ENCR_NULL and AES-CTR. An AEAD requires Integ NONE (RFC 7296 §3.3);
// ENCR_NULL requires integrity (RFC 4303 §3.2, RFC 2410); so, by this
// package's choice, does every other non-AEAD cipher, since ESP encryption
// without integrity is NOT RECOMMENDED (RFC 8221).
func NewESPSuite(encr ipsec.TransformID, keyBits int, integ, group ipsec.TransformID) (Suite, error) {
	s := Suite{Encr: encr, KeyBits: keyBits, Integ: integ, Group: group}
	if _, err := s.ESPKeyLengths(); err != nil {
		return Suite{}, err
	}
	if group != ipsec.GroupNone && !SupportedGroup(group) {
		return Suite{}, fmt.Errorf("%w: key exchange method %s", ErrUnsupported, groupName(group))
	}
	return s, nil
}

// AEAD reports whether the encryption transform is a combined-mode cipher.
func (s Suite) AEAD() bool { return encrTable[s.Encr].aead }

// IKEKeyLengths returns the lengths of the IKE SA keys (RFC 7296 §2.14) or
// an error if the Suite is not a valid IKE suite (the Group is not
// checked).
func (s Suite) IKEKeyLengths() (KeyLengths, error) {
	info, ok := encrTable[s.Encr]
	if !ok || !info.ike {
		return KeyLengths{}, fmt.Errorf("%w: %s for the IKE SA", ErrUnsupported, encrName(s.Encr))
	}
	kl, err := s.lengths(info)
	if err != nil {
		return KeyLengths{}, err
	}
	p, err := NewPRF(s.PRF)
	if err != nil {
		return KeyLengths{}, err
	}
	kl.PRF = p.KeySize()
	return kl, nil
}

// ESPKeyLengths returns the lengths of the ESP keys taken from KEYMAT for
// each direction (RFC 7296 §2.17), or an error if the Suite is not a valid
// ESP suite (the Group is not checked).
func (s Suite) ESPKeyLengths() (KeyLengths, error) {
	info, ok := encrTable[s.Encr]
	if !ok || !info.esp {
		return KeyLengths{}, fmt.Errorf("%w: %s for ESP", ErrUnsupported, encrName(s.Encr))
	}
	return s.lengths(info)
}

// lengths checks the key length and the integrity transform and returns
// the encryption and integrity key lengths.
func (s Suite) lengths(info encrInfo) (KeyLengths, error) {
	var kl KeyLengths
	if !containsInt(info.keyBits, s.KeyBits) {
		return KeyLengths{}, fmt.Errorf("%w: %s with Key Length %d", ErrUnsupported, encrName(s.Encr), s.KeyBits)
	}
	kl.Encr = s.KeyBits/8 + info.fixed + info.salt
	if info.aead {
		if s.Integ != ipsec.IntegNone {
			return KeyLengths{}, fmt.Errorf("%w: integrity algorithm %s with combined-mode %s",
				ErrUnsupported, ipsec.TransformName(ipsec.TransformInteg, s.Integ), encrName(s.Encr))
		}
		return kl, nil
	}
	integ, err := NewInteg(s.Integ)
	if err != nil {
		return KeyLengths{}, err
	}
	kl.Integ = integ.KeySize()
	return kl, nil
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// NewPRF returns the Suite's PRF.
func (s Suite) NewPRF() (PRF, error) { return NewPRF(s.PRF) }

// String renders the suite for logs, e.g.
// "AES_GCM_16/256-HMAC_SHA2_256-CURVE25519" or
// "AES_CBC/128-HMAC_SHA2_256_128-HMAC_SHA2_256-MODP_2048"; absent
// transforms are left out.
func (s Suite) String() string {
	parts := []string{encrName(s.Encr)}
	if s.KeyBits != 0 {
		parts[0] += "/" + strconv.Itoa(s.KeyBits)
	}
	if s.Integ != ipsec.IntegNone {
		parts = append(parts, ipsec.TransformName(ipsec.TransformInteg, s.Integ))
	}
	if s.PRF != 0 {
		parts = append(parts, ipsec.TransformName(ipsec.TransformPRF, s.PRF))
	}
	if s.Group != ipsec.GroupNone {
		parts = append(parts, groupName(s.Group))
	}
	return strings.Join(parts, "-")
}

// NewSKCipher returns the SKCipher for one direction of an IKE SA with the
// Suite s: encKey is SK_ei or SK_er (with the salt for an AEAD) and integKey
// SK_ai or SK_ar (empty for an AEAD). The keys are copied.
func NewSKCipher(s Suite, encKey, integKey []byte) (SKCipher, error) {
	kl, err := s.IKEKeyLengths()
	if err != nil {
		return nil, err
	}
	if len(encKey) != kl.Encr || len(integKey) != kl.Integ {
		return nil, fmt.Errorf("crypto: %s needs keys of %d and %d octets, got %d and %d",
			s, kl.Encr, kl.Integ, len(encKey), len(integKey))
	}
	if s.AEAD() {
		return newAEADCipher(s.Encr, encKey)
	}
	integ, err := NewInteg(s.Integ)
	if err != nil {
		return nil, err
	}
	return newCBCCipher(encKey, integ, integKey)
}
