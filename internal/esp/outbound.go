package esp

import (
	"crypto/aes"
	"encoding/binary"
	"math"
	"sync/atomic"
)

// Outbound is the sending side of an SA.
type Outbound struct {
	spi   uint32
	esn   bool
	suite *suite
	seq   atomic.Uint64 // the last sequence number taken
}

// NewOutbound keys the sending side of an SA.
func NewOutbound(c Config) (*Outbound, error) {
	s, err := newIdleSuite(&c)
	if err != nil {
		return nil, err
	}
	o := &Outbound{spi: c.SPI, esn: c.ESN, suite: s}
	o.seq.Store(c.Seq)
	return o, nil
}

// SPI returns the SA's SPI.
func (o *Outbound) SPI() uint32 { return o.spi }

// HeaderLen is the length of the ESP header and IV that Seal puts before
// the payload.
func (o *Outbound) HeaderLen() int { return o.suite.headerLen() }

// Overhead returns the length of the ESP packet sealing n payload octets.
func (o *Outbound) Overhead(n int) int {
	return o.suite.headerLen() + o.suite.padLen(n) + 2 + int(o.suite.icvLen)
}

// Seq returns the last sequence number used.
func (o *Outbound) Seq() uint64 {
	s := o.seq.Load()
	if limit := o.limit(); s > limit {
		return limit
	}
	return s
}

// limit is the last sequence number the SA may send: 2^32-1 without ESN
// (RFC 4303 §3.3.3: the counter must not cycle; the SA is rekeyed), 2^64-1
// with it.
func (o *Outbound) limit() uint64 {
	if o.esn {
		return math.MaxUint64
	}
	return math.MaxUint32
}

// Seal turns the payload b[off:off+n] into an ESP packet in place and
// returns it: the header and IV are written to b[off-o.HeaderLen():off],
// padding, Pad Length, Next Header next and the ICV after the payload.
// b[off-o.HeaderLen()-Scratch:] is used as scratch, and b needs MaxTrailer
// octets of capacity after the payload. It returns ErrSeqOverflow once the
// sequence number space is used up (the SA must be replaced).
func (o *Outbound) Seal(b []byte, off, n int, next byte) ([]byte, error) {
	s := o.suite
	h := off - s.headerLen()
	if h < Scratch || n < 0 || off+n+MaxTrailer > cap(b) {
		return nil, ErrBuffer
	}
	if err := s.ready(); err != nil {
		return nil, err
	}
	seq := o.seq.Add(1)
	if seq > o.limit() || seq == 0 {
		o.seq.Add(^uint64(0)) // stay at the limit
		return nil, ErrSeqOverflow
	}
	b = b[:cap(b)]
	pad := s.padLen(n)
	end := off + n
	// Default padding: 1, 2, 3, ... (RFC 4303 §2.4).
	for i := range pad {
		b[end+i] = byte(i + 1)
	}
	end += pad
	b[end], b[end+1] = byte(pad), next
	end += 2
	binary.BigEndian.PutUint32(b[h:], o.spi)
	binary.BigEndian.PutUint32(b[h+4:], uint32(seq))
	scratch := b[h-Scratch : h]
	if s.mode == modeAEAD || s.mode == modeGCM8 {
		// The explicit IV is the 64-bit sequence number: unique per key,
		// as RFC 4106 §3.1 and RFC 7634 §2 require, and a counter as they
		// suggest.
		binary.BigEndian.PutUint64(b[h+HeaderLen:], seq)
		nonce := scratch[:12]
		copy(nonce, s.salt[:])
		copy(nonce[4:], b[h+HeaderLen:off])
		aad := o.aad(scratch[16:], seq)
		// AES-GCM-8 writes the full 16-octet tag (within MaxTrailer)
		// and sends its first 8 octets (RFC 4106 §6).
		s.aead.Seal(b[off:off], nonce, b[off:end], aad)
		return b[h : end+int(s.icvLen)], nil
	}
	st := s.getState()
	if s.mode == modeCTR {
		// AES-CTR: the IV must be unique per key, and may be a counter
		// (RFC 3686 §3.1): the 64-bit sequence number, as for GCM.
		binary.BigEndian.PutUint64(b[h+HeaderLen:], seq)
		s.xorCTR(b[off:end], scratch, b[h+HeaderLen:off], 1)
	} else {
		// AES-CBC: the IV must be unpredictable (RFC 3602 §3). It is
		// the block cipher applied to a nonce unique per key (NIST SP
		// 800-38A Appendix C): all-ones then the 64-bit sequence number.
		iv := b[h+HeaderLen : off]
		ctr := scratch[:aes.BlockSize]
		binary.BigEndian.PutUint64(ctr, math.MaxUint64)
		binary.BigEndian.PutUint64(ctr[8:], seq)
		s.block.Encrypt(iv, ctr)
		st.enc.SetIV(iv)
		st.enc.CryptBlocks(b[off:end], b[off:end])
	}
	icv := s.mac(st, b[h:end], scratch, o.esn, seq)
	s.putState(st)
	copy(b[end:], icv[:int(s.icvLen)])
	return b[h : end+int(s.icvLen)], nil
}

// aad writes the additional authenticated data of an AEAD into dst: SPI
// and the 32-bit sequence number, or SPI, high and low halves of the
// extended one (RFC 4106 §5, RFC 7634 §2.1).
func (o *Outbound) aad(dst []byte, seq uint64) []byte {
	return aadOf(dst, o.spi, o.esn, seq)
}

func aadOf(dst []byte, spi uint32, esn bool, seq uint64) []byte {
	binary.BigEndian.PutUint32(dst, spi)
	if esn {
		binary.BigEndian.PutUint64(dst[4:], seq)
		return dst[:12]
	}
	binary.BigEndian.PutUint32(dst[4:], uint32(seq))
	return dst[:8]
}

// mac computes the HMAC of an ESP packet without its ICV into scratch and
// returns it untruncated. With ESN the high-order 32 bits of the sequence
// number follow the packet in the MAC input though they are not sent
// (RFC 4303 §2.2.1, §3.3.2.1).
func (s *suite) mac(st *cbcState, pkt, scratch []byte, esn bool, seq uint64) []byte {
	st.mac.Reset()
	st.mac.Write(pkt)
	if esn {
		binary.BigEndian.PutUint32(scratch, uint32(seq>>32))
		st.mac.Write(scratch[:4])
	}
	return st.mac.Sum(scratch[:0])
}
