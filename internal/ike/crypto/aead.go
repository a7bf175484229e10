package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"secgw/internal/ipsec"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	aeadSaltSize  = 4  // salt taken from the end of the key material (RFC 5282 §7.1, RFC 7634 §2)
	aeadIVSize    = 8  // explicit IV carried in the payload (RFC 5282 §3, RFC 7634 §2)
	aeadNonceSize = 12 // salt | IV
	gcmFullTag    = 16
)

// aeadCipher is an AEAD protecting the Encrypted payload: AES-GCM with an
// 8-, 12- or 16-octet ICV (RFC 5282) or ChaCha20-Poly1305 (RFC 7634).
//
// The nonce is salt | IV; the IV travels in the payload. crypto/cipher
// supports GCM tags of 12 to 16 octets only, so ENCR_AES_GCM_8 computes the
// full 16-octet tag and sends its first 8 octets, which is how GCM defines
// a truncated tag (NIST SP 800-38D §7.1, step 7: T = MSB_t(...)). Opening
// it decrypts with the GCM counter stream, recomputes the full tag over the
// recovered plaintext and compares the first 8 octets; the plaintext is
// released only if they match.
type aeadCipher struct {
	id        ipsec.TransformID
	aead      cipher.AEAD
	block     cipher.Block // AES, for the ENCR_AES_GCM_8 decryption stream
	salt      [aeadSaltSize]byte
	icvSize   int
	truncated bool          // aead produces gcmFullTag octets, we send icvSize
	counter   atomic.Uint64 // last IV used
}

// newAEADCipher builds the AEAD for an encryption transform from its key
// material, the key followed by the 4-octet salt.
func newAEADCipher(id ipsec.TransformID, keymat []byte) (*aeadCipher, error) {
	if len(keymat) <= aeadSaltSize {
		return nil, fmt.Errorf("crypto: %d octets of key material for %s", len(keymat), encrName(id))
	}
	key := keymat[:len(keymat)-aeadSaltSize]
	c := &aeadCipher{id: id}
	copy(c.salt[:], keymat[len(key):])
	var err error
	switch id {
	case ipsec.EncrChaCha20Poly1305:
		c.icvSize = chacha20poly1305.Overhead
		c.aead, err = chacha20poly1305.New(key)
	case ipsec.EncrAESGCM8, ipsec.EncrAESGCM12, ipsec.EncrAESGCM16:
		// The transform ID fixes the ICV length (RFC 4106, RFC 5282).
		c.icvSize = 16
		if id == ipsec.EncrAESGCM8 {
			c.icvSize = 8
		} else if id == ipsec.EncrAESGCM12 {
			c.icvSize = 12
		}
		if c.block, err = aes.NewCipher(key); err != nil {
			break
		}
		if c.icvSize < 12 {
			c.truncated = true
			c.aead, err = cipher.NewGCM(c.block)
		} else {
			c.aead, err = cipher.NewGCMWithTagSize(c.block, c.icvSize)
		}
	default:
		return nil, fmt.Errorf("%w: %s is not an AEAD", ErrUnsupported, encrName(id))
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", encrName(id), err)
	}
	// Start the IV counter at a random value, so that two instances built
	// from the same key by mistake are still unlikely to collide.
	var start [8]byte
	if _, err := io.ReadFull(rand.Reader, start[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading IV seed: %w", err)
	}
	c.counter.Store(binary.BigEndian.Uint64(start[:]))
	return c, nil
}

func encrName(id ipsec.TransformID) string { return ipsec.TransformName(ipsec.TransformEncr, id) }

// IVSize implements SKCipher.IVSize.
func (c *aeadCipher) IVSize() int { return aeadIVSize }

// LastIV implements IVCounter.
func (c *aeadCipher) LastIV() uint64 { return c.counter.Load() }

// SetLastIV implements IVCounter.
func (c *aeadCipher) SetLastIV(iv uint64) { c.counter.Store(iv) }

// ICVSize implements SKCipher.ICVSize.
func (c *aeadCipher) ICVSize() int { return c.icvSize }

// BlockSize implements SKCipher.BlockSize.
func (c *aeadCipher) BlockSize() int { return 1 }

// Overhead implements SKCipher.Overhead.
func (c *aeadCipher) Overhead() int { return aeadIVSize + 1 + c.icvSize }

// SealedLen implements SKCipher.SealedLen.
func (c *aeadCipher) SealedLen(n int) int { return aeadIVSize + n + 1 + c.icvSize }

// nonce returns salt | iv.
func (c *aeadCipher) nonce(iv []byte) [aeadNonceSize]byte {
	var n [aeadNonceSize]byte
	copy(n[:], c.salt[:])
	copy(n[aeadSaltSize:], iv)
	return n
}

// Seal implements SKCipher.Seal.
func (c *aeadCipher) Seal(dst, aad, plaintext []byte) ([]byte, error) {
	n := len(plaintext) + 1 // no padding, Pad Length 0
	slack := 0
	if c.truncated {
		slack = gcmFullTag - c.icvSize
	}
	ret, out := sliceForAppend(dst, aeadIVSize+n+c.icvSize+slack)
	var iv [aeadIVSize]byte
	binary.BigEndian.PutUint64(iv[:], c.counter.Add(1))
	copy(out[aeadIVSize:], plaintext)
	out[aeadIVSize+n-1] = 0
	c.sealPadded(out, iv[:], aad, n)
	return ret[:len(ret)-slack], nil
}

// sealPadded writes IV | ciphertext | ICV to out, which holds n octets of
// padded plaintext at out[aeadIVSize:] and has room for the full tag after
// them. Tests call it with fixed IVs and crafted padding.
func (c *aeadCipher) sealPadded(out, iv, aad []byte, n int) {
	copy(out, iv)
	nonce := c.nonce(iv)
	buf := out[aeadIVSize : aeadIVSize+n]
	c.aead.Seal(buf[:0], nonce[:], buf, aad) // in place, the tag follows
	if c.truncated {
		clear(out[aeadIVSize+n+c.icvSize : aeadIVSize+n+gcmFullTag])
	}
}

// Open implements SKCipher.Open.
func (c *aeadCipher) Open(dst, aad, body []byte) ([]byte, error) {
	if len(body) < aeadIVSize+1+c.icvSize {
		return nil, fmt.Errorf("%w: %d-octet body for %s", ErrMalformed, len(body), encrName(c.id))
	}
	nonce := c.nonce(body[:aeadIVSize])
	var ret, plain []byte
	if c.truncated {
		ct, tag := body[aeadIVSize:len(body)-c.icvSize], body[len(body)-c.icvSize:]
		ret, plain = sliceForAppend(dst, len(ct))
		// GCM encrypts with the counter blocks nonce | 2, nonce | 3, ...
		// (J0 = nonce | 1 is for the tag). No message is long enough for
		// the full-width CTR increment to differ from GCM's inc32.
		var ctr [aes.BlockSize]byte
		copy(ctr[:], nonce[:])
		ctr[aes.BlockSize-1] = 2
		cipher.NewCTR(c.block, ctr[:]).XORKeyStream(plain, ct)
		full := c.aead.Seal(nil, nonce[:], plain, aad)
		if subtle.ConstantTimeCompare(full[len(plain):len(plain)+c.icvSize], tag) != 1 {
			clear(plain)
			return nil, ErrAuthFailed
		}
	} else {
		var err error
		ret, err = c.aead.Open(dst, nonce[:], body[aeadIVSize:], aad)
		if err != nil {
			return nil, ErrAuthFailed
		}
		plain = ret[len(dst):]
	}
	stripped, err := stripPadding(plain)
	if err != nil {
		clear(plain)
		return nil, err
	}
	return ret[:len(ret)-len(plain)+len(stripped)], nil
}
