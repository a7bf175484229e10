package ipsec

import "strconv"

// TransformType is the Transform Type of a transform substructure
// (RFC 7296 §3.3.2, IANA "Transform Type Values"). Its String method
// (transformtype_string.go) returns "ENCR", "PRF", "INTEG", "KE", "ESN",
// "ADDKEn" or "TransformType(n)".
type TransformType uint8

//go:generate go tool stringer -type=TransformType -linecomment

// Transform types.
const (
	// Encryption Algorithm (RFC 7296 §3.3.2).
	TransformEncr TransformType = 1 // ENCR
	// Pseudorandom Function (RFC 7296 §3.3.2).
	TransformPRF TransformType = 2 // PRF
	// Integrity Algorithm (RFC 7296 §3.3.2).
	TransformInteg TransformType = 3 // INTEG
	// TransformKE is the Key Exchange Method, "Diffie-Hellman group (D-H)"
	// in RFC 7296 §3.3.2, renamed by RFC 9370.
	TransformKE TransformType = 4 // KE
	// TransformDH is the RFC 7296 name of TransformKE.
	TransformDH = TransformKE
	// Extended Sequence Numbers (RFC 7296 §3.3.2).
	TransformESN TransformType = 5 // ESN
	// The Additional Key Exchange types ADDKE1..7 are 6..12 (RFC 9370
	// §2.2.1).
	TransformAddKE1 TransformType = 6  // ADDKE1
	TransformAddKE2 TransformType = 7  // ADDKE2
	TransformAddKE3 TransformType = 8  // ADDKE3
	TransformAddKE4 TransformType = 9  // ADDKE4
	TransformAddKE5 TransformType = 10 // ADDKE5
	TransformAddKE6 TransformType = 11 // ADDKE6
	TransformAddKE7 TransformType = 12 // ADDKE7
)

// TransformID is a Transform ID; its meaning depends on the TransformType
// (RFC 7296 §3.3.2). Key exchange method IDs are also used in the KE
// payload and in INVALID_KE_PAYLOAD (RFC 7296 §3.4, §3.10.1).
type TransformID uint16

// Encryption algorithm IDs (Transform Type 1; RFC 7296 §3.3.2, IANA).
const (
	Encr3DES             TransformID = 3  // ENCR_3DES (RFC 2451)
	EncrNull             TransformID = 11 // ENCR_NULL (RFC 2410), ESP only
	EncrAESCBC           TransformID = 12 // ENCR_AES_CBC (RFC 3602), needs Key Length
	EncrAESCTR           TransformID = 13 // ENCR_AES_CTR (RFC 5930), needs Key Length
	EncrAESGCM8          TransformID = 18 // ENCR_AES_GCM_8 (RFC 4106, RFC 5282)
	EncrAESGCM12         TransformID = 19 // ENCR_AES_GCM_12 (RFC 4106, RFC 5282)
	EncrAESGCM16         TransformID = 20 // ENCR_AES_GCM_16 (RFC 4106, RFC 5282)
	EncrChaCha20Poly1305 TransformID = 28 // ENCR_CHACHA20_POLY1305 (RFC 7634)
)

// Pseudorandom function IDs (Transform Type 2; RFC 7296 §3.3.2, IANA).
const (
	PRFHMACSHA1     TransformID = 2 // PRF_HMAC_SHA1 (RFC 2104)
	PRFHMACSHA2_256 TransformID = 5 // PRF_HMAC_SHA2_256 (RFC 4868)
	PRFHMACSHA2_384 TransformID = 6 // PRF_HMAC_SHA2_384 (RFC 4868)
	PRFHMACSHA2_512 TransformID = 7 // PRF_HMAC_SHA2_512 (RFC 4868)
)

// Integrity algorithm IDs (Transform Type 3; RFC 7296 §3.3.2, IANA).
const (
	IntegNone             TransformID = 0  // NONE, with combined-mode ciphers
	IntegHMACSHA1_96      TransformID = 2  // AUTH_HMAC_SHA1_96 (RFC 2404)
	IntegHMACSHA2_256_128 TransformID = 12 // AUTH_HMAC_SHA2_256_128 (RFC 4868)
	IntegHMACSHA2_384_192 TransformID = 13 // AUTH_HMAC_SHA2_384_192 (RFC 4868)
	IntegHMACSHA2_512_256 TransformID = 14 // AUTH_HMAC_SHA2_512_256 (RFC 4868)
)

// Key exchange method (Diffie-Hellman group) IDs (Transform Type 4;
// RFC 7296 §3.3.2, IANA).
const (
	GroupNone       TransformID = 0  // NONE (RFC 9370 optional ADDKE)
	GroupMODP1024   TransformID = 2  // 1024-bit MODP (RFC 7296 App. B.2)
	GroupMODP1536   TransformID = 5  // 1536-bit MODP (RFC 3526)
	GroupMODP2048   TransformID = 14 // 2048-bit MODP (RFC 3526)
	GroupMODP3072   TransformID = 15 // 3072-bit MODP (RFC 3526)
	GroupMODP4096   TransformID = 16 // 4096-bit MODP (RFC 3526)
	GroupMODP6144   TransformID = 17 // 6144-bit MODP (RFC 3526)
	GroupMODP8192   TransformID = 18 // 8192-bit MODP (RFC 3526)
	GroupECP256     TransformID = 19 // 256-bit random ECP (RFC 5903)
	GroupECP384     TransformID = 20 // 384-bit random ECP (RFC 5903)
	GroupECP521     TransformID = 21 // 521-bit random ECP (RFC 5903)
	GroupCurve25519 TransformID = 31 // Curve25519 (RFC 8031)
	GroupCurve448   TransformID = 32 // Curve448 (RFC 8031)
	// ML-KEM (FIPS 203) as a key exchange method, in the IANA registry
	// through draft-ietf-ipsecme-ikev2-mlkem: the initiator's Key
	// Exchange Data is the encapsulation key, the responder's the
	// ciphertext.
	GroupMLKEM512  TransformID = 35 // ML-KEM-512
	GroupMLKEM768  TransformID = 36 // ML-KEM-768
	GroupMLKEM1024 TransformID = 37 // ML-KEM-1024
)

// Extended Sequence Numbers IDs (Transform Type 5; RFC 7296 §3.3.2).
const (
	ESNDisabled TransformID = 0 // No Extended Sequence Numbers
	ESNEnabled  TransformID = 1 // Extended Sequence Numbers
)

var transformNames = map[TransformType]map[TransformID]string{
	TransformEncr: {
		Encr3DES: "3DES", EncrNull: "NULL", EncrAESCBC: "AES_CBC", EncrAESCTR: "AES_CTR",
		EncrAESGCM8: "AES_GCM_8", EncrAESGCM12: "AES_GCM_12", EncrAESGCM16: "AES_GCM_16",
		EncrChaCha20Poly1305: "CHACHA20_POLY1305",
	},
	TransformPRF: {
		PRFHMACSHA1: "HMAC_SHA1", PRFHMACSHA2_256: "HMAC_SHA2_256",
		PRFHMACSHA2_384: "HMAC_SHA2_384", PRFHMACSHA2_512: "HMAC_SHA2_512",
	},
	TransformInteg: {
		IntegNone: "NONE", IntegHMACSHA1_96: "HMAC_SHA1_96",
		IntegHMACSHA2_256_128: "HMAC_SHA2_256_128", IntegHMACSHA2_384_192: "HMAC_SHA2_384_192",
		IntegHMACSHA2_512_256: "HMAC_SHA2_512_256",
	},
	TransformKE: {
		GroupNone: "NONE", GroupMODP1024: "MODP_1024", GroupMODP1536: "MODP_1536",
		GroupMODP2048: "MODP_2048", GroupMODP3072: "MODP_3072", GroupMODP4096: "MODP_4096",
		GroupMODP6144: "MODP_6144", GroupMODP8192: "MODP_8192", GroupECP256: "ECP_256",
		GroupECP384: "ECP_384", GroupECP521: "ECP_521", GroupCurve25519: "CURVE25519",
		GroupCurve448: "CURVE448", GroupMLKEM512: "ML_KEM_512", GroupMLKEM768: "ML_KEM_768",
		GroupMLKEM1024: "ML_KEM_1024",
	},
	TransformESN: {ESNDisabled: "NO_ESN", ESNEnabled: "ESN"},
}

// TransformName returns a readable name for a transform ID of the given
// type, e.g. "AES_GCM_16" or "MODP_2048", or its number.
func TransformName(t TransformType, id TransformID) string {
	tt := t
	if t >= TransformAddKE1 && t <= TransformAddKE7 {
		tt = TransformKE
	}
	if s, ok := transformNames[tt][id]; ok {
		return s
	}
	return strconv.Itoa(int(id))
}
