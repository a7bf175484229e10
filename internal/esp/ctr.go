package esp

import (
	"crypto/subtle"
	"encoding/binary"
)

// xorCTR encrypts or decrypts buf in place with AES in counter mode from
// the counter block salt | iv | first (RFC 3686 §4: nonce, IV, then a
// 32-bit block counter starting at 1; NIST SP 800-38D §7.1 for GCM,
// whose payload starts at counter 2). It uses scratch[:32] for the
// counter block and one block of key stream: cipher.NewCTR would cost an
// allocation per packet (its stream holds a copy of the key schedule and
// cannot be given another IV), so the blocks are encrypted one by one.
func (s *suite) xorCTR(buf, scratch, iv []byte, first uint32) {
	ctr, ks := scratch[:16], scratch[16:32]
	copy(ctr, s.salt[:])
	copy(ctr[4:12], iv)
	for n := first; len(buf) > 0; n++ {
		binary.BigEndian.PutUint32(ctr[12:], n)
		s.block.Encrypt(ks, ctr)
		buf = buf[subtle.XORBytes(buf, buf, ks):]
	}
}
