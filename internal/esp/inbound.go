package esp

import (
	"crypto/subtle"
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
)

// Inbound is the receiving side of an SA.
type Inbound struct {
	spi   uint32
	esn   bool
	suite *suite

	mu  sync.Mutex // guards win
	win *Window
	// top mirrors win.Top(), written under mu, so that Top is one atomic
	// load: HA sync reads it for every SA each period.
	top atomic.Uint64
}

// NewInbound keys the receiving side of an SA.
func NewInbound(c Config) (*Inbound, error) {
	s, err := newIdleSuite(&c)
	if err != nil {
		return nil, err
	}
	in := &Inbound{spi: c.SPI, esn: c.ESN, suite: s, win: NewWindow(c.ReplayWindow)}
	iseq := c.ISeq
	if !c.ESN {
		// Without ESN only 32 bits are ever received (RFC 4303 §2.2).
		iseq = min(iseq, math.MaxUint32)
	}
	in.win.Resume(iseq)
	in.top.Store(in.win.Top())
	return in, nil
}

// SPI returns the SA's SPI.
func (in *Inbound) SPI() uint32 { return in.spi }

// Top returns the highest sequence number accepted so far (or ISeq). It
// takes no lock.
func (in *Inbound) Top() uint64 { return in.top.Load() }

// Open authenticates and decrypts the ESP packet b[off:end] in place and
// returns its payload (a subslice of b), Next Header and full sequence
// number. b[off-Scratch:off] is used as scratch (and, with AES-GCM-8, the
// header and IV, restored before it returns). The replay window is
// checked before the ICV and updated only after it verifies (RFC 4303
// §3.4.3); nothing of a packet that fails is released.
func (in *Inbound) Open(b []byte, off, end int) (payload []byte, next byte, seq uint64, err error) {
	s := in.suite
	if off < Scratch || end > len(b) || off > end {
		return nil, 0, 0, ErrBuffer
	}
	ctStart := off + s.headerLen()
	ctEnd := end - int(s.icvLen)
	if ctEnd-ctStart < 2 {
		return nil, 0, 0, ErrShort
	}
	if binary.BigEndian.Uint32(b[off:]) != in.spi {
		return nil, 0, 0, ErrSPI
	}
	if err := s.ready(); err != nil {
		return nil, 0, 0, err
	}
	seqLow := binary.BigEndian.Uint32(b[off+4:])
	in.mu.Lock()
	if in.esn {
		// RFC 4303 Appendix A2.2: guess the high-order bits from the
		// window; the ICV confirms the guess.
		seq = EstimateSeq(in.win.Top(), in.win.Size(), seqLow)
	} else {
		seq = uint64(seqLow)
	}
	err = in.win.Check(seq)
	in.mu.Unlock()
	if err != nil {
		return nil, 0, seq, err
	}
	scratch := b[off-Scratch : off]
	switch s.mode {
	case modeAEAD:
		nonce := scratch[:12]
		copy(nonce, s.salt[:])
		copy(nonce[4:], b[off+HeaderLen:ctStart])
		aad := aadOf(scratch[16:], in.spi, in.esn, seq)
		if _, err := s.aead.Open(b[ctStart:ctStart], nonce, b[ctStart:end], aad); err != nil {
			return nil, 0, seq, ErrAuth
		}
	case modeGCM8:
		if !s.openGCM8(b[off:end], ctStart-off, ctEnd-off, scratch, in.spi, in.esn, seq) {
			return nil, 0, seq, ErrAuth
		}
	default:
		// RFC 4303 §3.4.4: verify the ICV before decrypting.
		if (ctEnd-ctStart)%int(s.align) != 0 {
			return nil, 0, seq, ErrLength
		}
		st := s.getState()
		sum := s.mac(st, b[off:ctEnd], scratch, in.esn, seq)
		if subtle.ConstantTimeCompare(sum[:int(s.icvLen)], b[ctEnd:end]) != 1 {
			s.putState(st)
			return nil, 0, seq, ErrAuth
		}
		if s.mode == modeCTR {
			s.xorCTR(b[ctStart:ctEnd], scratch, b[off+HeaderLen:ctStart], 1)
		} else {
			st.dec.SetIV(b[off+HeaderLen : ctStart])
			st.dec.CryptBlocks(b[ctStart:ctEnd], b[ctStart:ctEnd])
		}
		s.putState(st)
	}
	in.mu.Lock()
	err = in.win.Update(seq)
	in.top.Store(in.win.Top())
	in.mu.Unlock()
	if err != nil {
		return nil, 0, seq, err
	}
	// Trailer (RFC 4303 §2.4-2.6). The packet is authentic, so a bad
	// trailer is the peer's bug; the padding is checked as the default
	// scheme fills it, 1, 2, 3, ... (the receiver SHOULD inspect it).
	pad := int(b[ctEnd-2])
	next = b[ctEnd-1]
	pt := ctEnd - 2 - pad
	if pt < ctStart {
		return nil, 0, seq, ErrPadding
	}
	for i := range pad {
		if b[pt+i] != byte(i+1) {
			return nil, 0, seq, ErrPadding
		}
	}
	return b[ctStart:pt], next, seq, nil
}
