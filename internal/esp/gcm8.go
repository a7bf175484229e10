package esp

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// AES-GCM with an 8-octet ICV (ENCR_AES_GCM_8, RFC 4106 §6). A short GCM
// tag is the full tag truncated (NIST SP 800-38D §7.1 step 6: T =
// MSB_t(GCTR(J0, S))), but crypto/cipher makes no tag shorter than 12
// octets. So Seal seals with the full tag and sends its first 8 octets,
// and Open, which cannot hand a truncated tag to cipher.AEAD.Open,
// recomputes the tag with crypto/cipher's GHASH (its assembly, not a
// software one) and decrypts with AES-CTR.
//
// To get GHASH_H(A, C) out of crypto/cipher, Open seals an empty
// plaintext under the packet's nonce with the additional data A |
// zero padding | C, laid out in place of the ESP header and IV. GHASH then
// runs over the same blocks as for (A, C) (SP 800-38D §7.1 step 5: A and C
// each padded to 16 octets) except the last, the lengths block:
// len(A|pad|C) | 0 instead of len(A) | len(C). GHASH is Horner's rule,
// S = (...(X1·H ⊕ X2)·H ⊕ ... ⊕ Xn)·H, so the two tags differ by
// (L1 ⊕ L2)·H, one multiplication in GF(2^128), done here in software.

// ghashKey is H = E_K(0^128) as two big-endian halves (SP 800-38D §6.4);
// a secret of the SA.
type ghashKey struct{ hi, lo uint64 }

func newGHASHKey(b cipher.Block) ghashKey {
	var h [16]byte
	b.Encrypt(h[:], h[:])
	return ghashKey{binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])}
}

// mul returns X·H in GF(2^128) with GCM's bit order (SP 800-38D §6.3,
// Algorithm 1: bit 0 is the most significant bit of the first octet; R =
// 11100001 | 0^120), in time independent of X and H.
func (h ghashKey) mul(xhi, xlo uint64) (zhi, zlo uint64) {
	vhi, vlo := h.hi, h.lo
	for i := range 128 {
		var bit uint64
		if i < 64 {
			bit = xhi >> (63 - i) & 1
		} else {
			bit = xlo >> (127 - i) & 1
		}
		m := -bit
		zhi ^= vhi & m
		zlo ^= vlo & m
		r := -(vlo & 1)
		vlo = vlo>>1 | vhi<<63
		vhi = vhi>>1 ^ 0xe1<<56&r
	}
	return zhi, zlo
}

// openGCM8 verifies the 8-octet ICV of the ESP packet pkt (header, IV,
// ciphertext pkt[ctStart:ctEnd], ICV) and decrypts the ciphertext in
// place. The header and IV are overwritten meanwhile and restored.
// scratch is the Scratch octets before pkt.
func (s *suite) openGCM8(pkt []byte, ctStart, ctEnd int, scratch []byte, spi uint32, esn bool, seq uint64) bool {
	iv := scratch[48:56]
	copy(iv, pkt[HeaderLen:ctStart])
	nonce := scratch[:12]
	copy(nonce, s.salt[:])
	copy(nonce[4:], iv)
	saved := scratch[32:40]
	copy(saved, pkt[:HeaderLen])
	// A (SPI, sequence number, RFC 4106 §5) and its zero padding take
	// the 16 octets of header and IV, just before C.
	head := pkt[:ctStart]
	aadLen := len(aadOf(head, spi, esn, seq))
	clear(head[aadLen:])
	tag := s.aead.Seal(scratch[16:16], nonce, nil, pkt[:ctEnd])
	copy(pkt, saved)
	copy(pkt[HeaderLen:], iv)
	// L1 is the lengths block crypto/cipher hashed, L2 the one of (A, C),
	// in bits (SP 800-38D §7.1 step 5).
	l1hi, l1lo := uint64(ctEnd)*8, uint64(0)
	l2hi, l2lo := uint64(aadLen)*8, uint64(ctEnd-ctStart)*8
	fix, _ := s.gh.mul(l1hi^l2hi, l1lo^l2lo)
	binary.BigEndian.PutUint64(tag, binary.BigEndian.Uint64(tag)^fix)
	if subtle.ConstantTimeCompare(tag[:8], pkt[ctEnd:]) != 1 {
		return false
	}
	// The payload is encrypted from inc32(J0), J0 = nonce | 1 (SP
	// 800-38D §7.1 steps 2-3).
	s.xorCTR(pkt[ctStart:ctEnd], scratch, iv, 2)
	return true
}
