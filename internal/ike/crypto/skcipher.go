package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"io"
)

// SKCipher protects the Encrypted (SK, RFC 7296 §3.14) and Encrypted
// Fragment (SKF, RFC 7383 §2.5) payloads with the keys of one direction of
// an IKE SA: SK_ei/SK_ai for messages sent by the original initiator,
// SK_er/SK_ar for the other direction. It hides the difference between
// AES-CBC with HMAC and the AEAD ciphers (AES-GCM, RFC 5282; ChaCha20-
// Poly1305, RFC 7634), so the engine needs no algorithm-specific code:
//
//  1. Marshal the inner payloads into plaintext (without padding).
//  2. Build the IKE header, any unencrypted payloads and the SK (or SKF)
//     payload header, with the Length fields of the header and of the SK
//     payload already counting SealedLen(len(plaintext)) octets of body.
//     These octets are the authenticated prefix, aad.
//  3. msg, err := c.Seal(aad, aad, plaintext) appends IV | ciphertext |
//     ICV, completing the message.
//
// On receipt, Open(nil, msg[:len(msg)-len(body)], body) with body the SK
// payload body (wire.Encrypted.Body) returns the inner payloads without
// padding and Pad Length. For AES-CBC the ICV covers aad | IV | ciphertext
// (RFC 7296 §3.14); for the AEADs aad is the additional authenticated data
// (RFC 5282 §3, RFC 7634 §3), in both cases "the IKE header through
// the SK payload header".
//
// Seal pads minimally: to the 16-octet block for AES-CBC, not at all for
// the AEADs (RFC 5282 §3, RFC 7634 §3), with zero octets; Open accepts any
// padding content and length that fits (RFC 7296 §3.14). The IV is random
// for AES-CBC (RFC 7296 §3.14: unpredictable) and a per-instance counter
// from a random start for the AEADs (RFC 5282 §3, RFC 7634 §2: unique per
// key).
//
// An SKCipher is safe for concurrent use.
type SKCipher interface {
	// IVSize returns the length of the Initialization Vector.
	IVSize() int
	// ICVSize returns the length of the Integrity Checksum Data or AEAD
	// tag.
	ICVSize() int
	// BlockSize returns the alignment of plaintext, padding and Pad
	// Length: 16 for AES-CBC, 1 for the AEADs.
	BlockSize() int
	// SealedLen returns the length of the SK payload body (IV |
	// ciphertext | ICV) that Seal produces for n octets of inner payloads.
	SealedLen(n int) int
	// Overhead returns the largest difference SealedLen(n) - n over all
	// n: IV, ICV, Pad Length and the longest minimal padding.
	Overhead() int
	// Seal pads and encrypts plaintext, protects it and aad, appends
	// IV | ciphertext | ICV to dst and returns the result. dst may be aad
	// itself (with or without spare capacity) but must not otherwise
	// overlap aad or plaintext. It fails only if the random source does.
	Seal(dst, aad, plaintext []byte) ([]byte, error)
	// Open verifies aad and body (IV | ciphertext | ICV), decrypts and
	// strips the padding and Pad Length, and appends the inner payloads
	// to dst. Errors wrap ErrAuthFailed or ErrMalformed. dst must not
	// overlap aad or body.
	Open(dst, aad, body []byte) ([]byte, error)
}

// IVCounter is implemented by the SKCiphers whose IVs count up from a
// random start (the AEADs: RFC 5282 §3 and RFC 7634 §2 only ask that an IV
// never repeat under one key). A user that builds the cipher of a key
// anew for each message, instead of keeping it, carries the counter from
// one instance to the next: SetLastIV on the new instance with what
// LastIV returned on the previous one, so that IVs keep counting up.
type IVCounter interface {
	// LastIV returns the last IV used (the random start if none was).
	LastIV() uint64
	// SetLastIV sets it: the next Seal uses iv+1.
	SetLastIV(iv uint64)
}

// sliceForAppend extends in by n octets, reallocating if needed, and
// returns the whole slice and the new tail.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	total := len(in) + n
	if cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}

// stripPadding removes the Padding and the Pad Length octet that ends a
// decrypted SK payload (RFC 7296 §3.14). Any Pad Length that fits in the
// decrypted data is accepted.
func stripPadding(plain []byte) ([]byte, error) {
	if len(plain) == 0 {
		return nil, fmt.Errorf("%w: no Pad Length octet", ErrMalformed)
	}
	padLen := int(plain[len(plain)-1])
	if padLen+1 > len(plain) {
		return nil, fmt.Errorf("%w: Pad Length %d exceeds %d decrypted octets", ErrMalformed, padLen, len(plain)-1)
	}
	return plain[:len(plain)-1-padLen], nil
}

// cbcCipher is AES-CBC (RFC 3602, RFC 7296 §3.14) with an HMAC integrity
// algorithm over the message up to the end of the ciphertext.
type cbcCipher struct {
	block    cipher.Block
	integ    Integ
	integKey []byte
	rand     io.Reader // IV source; crypto/rand.Reader outside tests
}

// newCBCCipher checks the key lengths and builds the cipher.
func newCBCCipher(encKey []byte, integ Integ, integKey []byte) (*cbcCipher, error) {
	switch len(encKey) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("crypto: AES-CBC key of %d octets", len(encKey))
	}
	if len(integKey) != integ.KeySize() {
		return nil, fmt.Errorf("crypto: %s key of %d octets, want %d", integ, len(integKey), integ.KeySize())
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("crypto: %w", err)
	}
	return &cbcCipher{block: block, integ: integ, integKey: append([]byte(nil), integKey...), rand: rand.Reader}, nil
}

// IVSize implements SKCipher.IVSize.
func (c *cbcCipher) IVSize() int { return aes.BlockSize }

// ICVSize implements SKCipher.ICVSize.
func (c *cbcCipher) ICVSize() int { return c.integ.ICVSize() }

// BlockSize implements SKCipher.BlockSize.
func (c *cbcCipher) BlockSize() int { return aes.BlockSize }

// Overhead implements SKCipher.Overhead.
func (c *cbcCipher) Overhead() int { return aes.BlockSize + aes.BlockSize + c.integ.ICVSize() }

// SealedLen implements SKCipher.SealedLen.
func (c *cbcCipher) SealedLen(n int) int {
	return aes.BlockSize + c.paddedLen(n) + c.integ.ICVSize()
}

// paddedLen is n plus minimal padding plus the Pad Length octet, rounded
// up to the block size.
func (c *cbcCipher) paddedLen(n int) int {
	return (n + 1 + aes.BlockSize - 1) / aes.BlockSize * aes.BlockSize
}

// Seal implements SKCipher.Seal.
func (c *cbcCipher) Seal(dst, aad, plaintext []byte) ([]byte, error) {
	padded := c.paddedLen(len(plaintext))
	ret, out := sliceForAppend(dst, c.SealedLen(len(plaintext)))
	iv, ct, icv := out[:aes.BlockSize], out[aes.BlockSize:aes.BlockSize+padded], out[aes.BlockSize+padded:]
	if _, err := io.ReadFull(c.rand, iv); err != nil {
		return nil, fmt.Errorf("crypto: reading IV: %w", err)
	}
	copy(ct, plaintext)
	clear(ct[len(plaintext):])
	ct[padded-1] = byte(padded - 1 - len(plaintext)) // Pad Length
	c.sealPadded(aad, out[:aes.BlockSize+padded], icv)
	return ret, nil
}

// sealPadded encrypts ivct[16:] in place with the IV ivct[:16] and writes
// the ICV over aad | ivct. Tests call it with crafted padding.
func (c *cbcCipher) sealPadded(aad, ivct, icv []byte) {
	cipher.NewCBCEncrypter(c.block, ivct[:aes.BlockSize]).CryptBlocks(ivct[aes.BlockSize:], ivct[aes.BlockSize:])
	copy(icv, c.integ.sum(c.integKey, aad, ivct))
}

// Open implements SKCipher.Open.
func (c *cbcCipher) Open(dst, aad, body []byte) ([]byte, error) {
	icvLen := c.integ.ICVSize()
	ctLen := len(body) - aes.BlockSize - icvLen
	if ctLen < aes.BlockSize || ctLen%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d-octet body for AES-CBC with %s", ErrMalformed, len(body), c.integ)
	}
	// Encrypt-then-MAC: verify before decrypting (RFC 7296 §3.14).
	ivct, icv := body[:len(body)-icvLen], body[len(body)-icvLen:]
	if !hmac.Equal(c.integ.sum(c.integKey, aad, ivct), icv) {
		return nil, ErrAuthFailed
	}
	ret, out := sliceForAppend(dst, ctLen)
	cipher.NewCBCDecrypter(c.block, ivct[:aes.BlockSize]).CryptBlocks(out, ivct[aes.BlockSize:])
	plain, err := stripPadding(out)
	if err != nil {
		clear(out)
		return nil, err
	}
	return ret[:len(ret)-len(out)+len(plain)], nil
}
