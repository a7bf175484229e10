package dataplane

import (
	"fmt"
	"secgw/internal/ipsec"
)

// KernelAlg is an ESP algorithm as the Linux crypto API names it, with the
// length in bits of its ICV (AEADs) or of its truncated MAC (integrity).
type KernelAlg struct {
	Name string
	Bits int
}

// EncrAlg returns the kernel name of an ESP encryption transform; aead
// reports a combined-mode cipher (no separate integrity algorithm).
//
// AES-GCM is "rfc4106(gcm(aes))" (RFC 4106 §3: 8, 12 or 16 octet ICV; the
// key carries the 4-octet salt, §8.1); ChaCha20-Poly1305 is
// "rfc7539esp(chacha20,poly1305)" (RFC 7634 §2: 16 octet tag, 4-octet
// salt); AES-CTR is "rfc3686(ctr(aes))" (RFC 3686 §5.1: 4-octet nonce).
func EncrAlg(id ipsec.TransformID) (alg KernelAlg, aead bool, err error) {
	switch id {
	case ipsec.EncrAESGCM8:
		return KernelAlg{"rfc4106(gcm(aes))", 64}, true, nil
	case ipsec.EncrAESGCM12:
		return KernelAlg{"rfc4106(gcm(aes))", 96}, true, nil
	case ipsec.EncrAESGCM16:
		return KernelAlg{"rfc4106(gcm(aes))", 128}, true, nil
	case ipsec.EncrChaCha20Poly1305:
		return KernelAlg{"rfc7539esp(chacha20,poly1305)", 128}, true, nil
	case ipsec.EncrAESCBC:
		return KernelAlg{Name: "cbc(aes)"}, false, nil
	case ipsec.EncrAESCTR:
		return KernelAlg{Name: "rfc3686(ctr(aes))"}, false, nil
	case ipsec.EncrNull:
		return KernelAlg{Name: "ecb(cipher_null)"}, false, nil
	}
	return KernelAlg{}, false, fmt.Errorf("dataplane: unsupported ESP encryption %s", ipsec.TransformName(ipsec.TransformEncr, id))
}

// IntegAlg returns the kernel name and truncation length of an ESP
// integrity transform: HMAC-SHA1-96 (RFC 2404) and the RFC 4868 §2.3
// truncations of HMAC-SHA-256/384/512 to half the hash (128, 192, 256
// bits).
func IntegAlg(id ipsec.TransformID) (KernelAlg, error) {
	switch id {
	case ipsec.IntegHMACSHA1_96:
		return KernelAlg{"hmac(sha1)", 96}, nil
	case ipsec.IntegHMACSHA2_256_128:
		return KernelAlg{"hmac(sha256)", 128}, nil
	case ipsec.IntegHMACSHA2_384_192:
		return KernelAlg{"hmac(sha384)", 192}, nil
	case ipsec.IntegHMACSHA2_512_256:
		return KernelAlg{"hmac(sha512)", 256}, nil
	}
	return KernelAlg{}, fmt.Errorf("dataplane: unsupported ESP integrity %s", ipsec.TransformName(ipsec.TransformInteg, id))
}

// EncrFromAlg is the inverse of EncrAlg; ok is false for a name this
// package does not produce.
func EncrFromAlg(a KernelAlg) (id ipsec.TransformID, ok bool) {
	switch a.Name {
	case "rfc4106(gcm(aes))":
		switch a.Bits {
		case 64:
			return ipsec.EncrAESGCM8, true
		case 96:
			return ipsec.EncrAESGCM12, true
		case 128:
			return ipsec.EncrAESGCM16, true
		}
	case "rfc7539esp(chacha20,poly1305)":
		return ipsec.EncrChaCha20Poly1305, a.Bits == 128
	case "cbc(aes)":
		return ipsec.EncrAESCBC, true
	case "rfc3686(ctr(aes))":
		return ipsec.EncrAESCTR, true
	case "ecb(cipher_null)", "cipher_null":
		return ipsec.EncrNull, true
	}
	return 0, false
}

// IntegFromAlg is the inverse of IntegAlg; ok is false for a name or
// truncation this package does not produce.
func IntegFromAlg(a KernelAlg) (id ipsec.TransformID, ok bool) {
	for _, id := range []ipsec.TransformID{ipsec.IntegHMACSHA1_96, ipsec.IntegHMACSHA2_256_128,
		ipsec.IntegHMACSHA2_384_192, ipsec.IntegHMACSHA2_512_256} {
		if k, _ := IntegAlg(id); k == a {
			return id, true
		}
	}
	return 0, false
}
