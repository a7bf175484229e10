package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"runtime"
	"secgw/internal/ipsec"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Config is what both directions of an SA need. Keys are secrets: a
// Config is never logged.
type Config struct {
	SPI uint32
	// Encr is ENCR_AES_GCM_16, _12 or _8, ENCR_CHACHA20_POLY1305,
	// ENCR_AES_CBC or ENCR_AES_CTR. EncrKey of the AEADs ends with their
	// 4-octet salt (RFC 4106 §8.1, RFC 7634 §2), that of AES-CTR with its
	// 4-octet nonce (RFC 3686 §5.1).
	Encr    ipsec.TransformID
	EncrKey []byte
	// Integ is ipsec.IntegNone with an AEAD, else one of the HMACs.
	Integ    ipsec.TransformID
	IntegKey []byte
	// ESN selects 64-bit sequence numbers (RFC 4304).
	ESN bool
	// ReplayWindow is the inbound anti-replay window in packets (0 turns
	// the check off), at most MaxWindow.
	ReplayWindow uint32
	// Seq is, outbound, the last sequence number already used (0 for a
	// new SA; a standby taking over continues from the active's). The
	// first packet carries Seq+1; with ESN its high half goes into the ICV
	// (RFC 4303 §2.2.1).
	Seq uint64
	// ISeq is, inbound, the highest sequence number already received (0
	// for a new SA): the replay window starts there with every number up
	// to it taken as seen (Window.Resume). With ESN its high half is the
	// subspace the window starts in (RFC 4303 Appendix A2).
	ISeq uint64
}

const (
	aeadIVLen   = 8  // explicit IV in the packet (RFC 4106 §3.1, RFC 7634 §2)
	aeadSaltLen = 4  // from the end of the key material (RFC 4106 §8.1)
	aeadTagLen  = 16 // ENCR_AES_GCM_16 and Poly1305 (RFC 4106 §6, RFC 7634 §2)
	aeadAlign   = 4  // RFC 4303 §2.4: the ICV is 4-octet aligned
	ctrIVLen    = 8  // RFC 3686 §3.1
	ctrNonceLen = 4  // RFC 3686 §5.1: from the end of the key material
)

// mode is how a suite encrypts.
type mode uint8

const (
	modeAEAD mode = iota + 1 // AES-GCM-16/12, ChaCha20-Poly1305: cipher.AEAD
	modeGCM8                 // AES-GCM-8: gcm8.go
	modeCBC                  // AES-CBC and an HMAC (RFC 3602)
	modeCTR                  // AES-CTR and an HMAC (RFC 3686)
)

// params are the transforms of an SA, checked (see check).
type params struct {
	mode    mode
	keyLen  int // the cipher's key, without salt or nonce
	tagLen  int // the AEAD's ICV
	newHash func() hash.Hash
	macLen  int // the HMAC's ICV
}

// check validates the transforms of an SA and the lengths of its keys
// (encryption key material with its salt or nonce) without keying
// anything. newSuite relies on it, and Supports answers with it.
func check(encr ipsec.TransformID, encrKeyLen int, integ ipsec.TransformID, integKeyLen int) (params, error) {
	var p params
	saltLen := 0
	switch encr {
	case ipsec.EncrAESGCM16, ipsec.EncrAESGCM12, ipsec.EncrAESGCM8, ipsec.EncrChaCha20Poly1305:
		// RFC 4106 §3, §6: the ICV is 16, 12 or 8 octets; RFC 7634 §2.
		p.mode, p.tagLen, saltLen = modeAEAD, aeadTagLen, aeadSaltLen
		switch encr {
		case ipsec.EncrAESGCM12:
			p.tagLen = 12
		case ipsec.EncrAESGCM8:
			p.mode, p.tagLen = modeGCM8, 8
		}
		if integ != ipsec.IntegNone {
			return params{}, fmt.Errorf("esp: %s is an AEAD and takes no integrity transform (got %s)", encrName(encr), integName(integ))
		}
	case ipsec.EncrAESCBC:
		p.mode = modeCBC
	case ipsec.EncrAESCTR:
		p.mode, saltLen = modeCTR, ctrNonceLen
	default:
		return params{}, fmt.Errorf("esp: unsupported encryption transform %s", encrName(encr))
	}
	p.keyLen = encrKeyLen - saltLen
	switch {
	case encr == ipsec.EncrChaCha20Poly1305 && p.keyLen != chacha20poly1305.KeySize,
		encr != ipsec.EncrChaCha20Poly1305 && p.keyLen != 16 && p.keyLen != 24 && p.keyLen != 32:
		return params{}, fmt.Errorf("esp: %d octets of key material for %s", encrKeyLen, encrName(encr))
	}
	if p.mode != modeCBC && p.mode != modeCTR {
		return p, nil
	}
	var keyLen int
	switch integ {
	case ipsec.IntegHMACSHA1_96: // RFC 2404 §2
		p.newHash, keyLen, p.macLen = sha1.New, 20, 12
	case ipsec.IntegHMACSHA2_256_128: // RFC 4868 §2.1.1, §2.6
		p.newHash, keyLen, p.macLen = sha256.New, 32, 16
	case ipsec.IntegHMACSHA2_384_192:
		p.newHash, keyLen, p.macLen = sha512.New384, 48, 24
	case ipsec.IntegHMACSHA2_512_256:
		p.newHash, keyLen, p.macLen = sha512.New, 64, 32
	default:
		return params{}, fmt.Errorf("esp: unsupported integrity transform %s with %s", integName(integ), encrName(encr))
	}
	if integKeyLen != keyLen {
		return params{}, fmt.Errorf("esp: %s needs a %d-octet key, got %d", integName(integ), keyLen, integKeyLen)
	}
	return p, nil
}

// Supports reports whether NewOutbound and NewInbound accept an SA with
// the encryption transform encr and encrKeyLen octets of its key material
// (salt or nonce included), and the integrity transform integ with an
// integKeyLen-octet key (ipsec.IntegNone and 0 with an AEAD).
func Supports(encr ipsec.TransformID, encrKeyLen int, integ ipsec.TransformID, integKeyLen int) bool {
	_, err := check(encr, encrKeyLen, integ, integKeyLen)
	return err == nil
}

// suite is the keyed transform of one SA direction.
//
// An SA holds one suite: its fields are ordered and sized (the lengths in
// octets, all below 256) so that it fits the 160-octet size class.
type suite struct {
	mode mode
	encr ipsec.TransformID
	// tagLen is the AEAD's ICV length (modeAEAD, modeGCM8).
	tagLen uint8
	icvLen uint8
	ivLen  uint8
	align  uint8 // padding boundary: the cipher's block (RFC 4303 §2.4)
	// key is the cipher key until ready expands it into aead or block;
	// once guards that, and err is its outcome.
	key  []byte
	once sync.Once
	err  error

	aead cipher.AEAD // modeAEAD, modeGCM8 (with a 16-octet tag)
	// salt is the AEAD's salt (RFC 4106 §4) or AES-CTR's nonce (RFC
	// 3686 §4): the first octets of every nonce or counter block.
	salt [aeadSaltLen]byte
	// gh is the GHASH key H of AES-GCM-8 (gcm8.go); a secret.
	gh ghashKey

	block   cipher.Block     // modeCBC, modeCTR, modeGCM8 (nil with modeAEAD)
	newHash func() hash.Hash // HMAC's hash
	macKey  []byte
	// states is a free list of HMAC states, with the CBC modes for
	// modeCBC (a channel rather than a sync.Pool, which drops entries at
	// random under the race detector and at every GC).
	states chan *cbcState
}

// cbcState is the per-goroutine state of an SA with an HMAC: a keyed
// HMAC and, for AES-CBC, the block modes with SetIV (crypto/cipher's CBC
// implements it; crypto/tls relies on the same).
type cbcState struct {
	enc cbcMode
	dec cbcMode
	mac hash.Hash
}

type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// newSuite checks the transforms and key lengths of c and keys them.
func newSuite(c *Config) (*suite, error) {
	s, err := newIdleSuite(c)
	if err != nil {
		return nil, err
	}
	return s, s.ready()
}

// newIdleSuite checks the transforms and key lengths of c and keeps the
// cipher key for ready, which expands it on the SA's first packet: the
// AES key schedule and GCM tables (~600 octets a direction) are not held
// by the SAs that carry no traffic, most of a concentrator's.
func newIdleSuite(c *Config) (*suite, error) {
	p, err := check(c.Encr, len(c.EncrKey), c.Integ, len(c.IntegKey))
	if err != nil {
		return nil, err
	}
	s := &suite{mode: p.mode, encr: c.Encr, tagLen: uint8(p.tagLen)}
	s.key = append([]byte(nil), c.EncrKey[:p.keyLen]...)
	copy(s.salt[:], c.EncrKey[p.keyLen:])
	switch p.mode {
	case modeAEAD, modeGCM8:
		s.ivLen, s.icvLen, s.align = aeadIVLen, uint8(p.tagLen), aeadAlign
	case modeCBC, modeCTR:
		s.ivLen, s.align = aes.BlockSize, aes.BlockSize
		if p.mode == modeCTR {
			// RFC 3686 §3.1, §3.2: an 8-octet IV, no block alignment
			// beyond ESP's 4 octets.
			s.ivLen, s.align = ctrIVLen, aeadAlign
		}
		s.newHash, s.icvLen = p.newHash, uint8(p.macLen)
		s.macKey = append([]byte(nil), c.IntegKey...)
		s.states = make(chan *cbcState, 4*runtime.GOMAXPROCS(0))
	}
	return s, nil
}

// ready keys the suite on first use (newIdleSuite); safe for concurrent
// use.
func (s *suite) ready() error {
	s.once.Do(func() { s.err = s.expand() })
	return s.err
}

// expand builds the ciphers of the suite from its key, then drops the key.
func (s *suite) expand() error {
	key := s.key
	defer clear(key)
	s.key = nil
	var err error
	switch {
	case s.encr == ipsec.EncrChaCha20Poly1305:
		if s.aead, err = chacha20poly1305.New(key); err != nil {
			return err
		}
	default:
		if s.block, err = aes.NewCipher(key); err != nil {
			return err
		}
	}
	if (s.mode == modeAEAD || s.mode == modeGCM8) && s.aead == nil {
		// AES-GCM-8 seals with the full tag and sends its first 8
		// octets (NIST SP 800-38D §7.1 step 6, RFC 4106 §6); crypto/
		// cipher makes no tag shorter than 12.
		tag := int(s.tagLen)
		if s.mode == modeGCM8 {
			tag = aeadTagLen
			s.gh = newGHASHKey(s.block)
		}
		if s.aead, err = cipher.NewGCMWithTagSize(s.block, tag); err != nil {
			return err
		}
		if s.mode == modeAEAD {
			// The AEAD keeps its own copy of the expanded key: AES-GCM
			// needs no block cipher of its own (~400 octets an SA).
			s.block = nil
		}
	}
	return nil
}

// getState takes an HMAC (and CBC) state from the free list, or makes one.
func (s *suite) getState() *cbcState {
	select {
	case st := <-s.states:
		return st
	default:
	}
	st := &cbcState{mac: hmac.New(s.newHash, s.macKey)}
	if s.mode == modeCBC {
		iv := make([]byte, aes.BlockSize)
		st.enc = cipher.NewCBCEncrypter(s.block, iv).(cbcMode)
		st.dec = cipher.NewCBCDecrypter(s.block, iv).(cbcMode)
	}
	return st
}

// putState returns a state to the free list (or drops it when full).
func (s *suite) putState(st *cbcState) {
	select {
	case s.states <- st:
	default:
	}
}

// headerLen is the ESP header and IV: where the payload starts.
func (s *suite) headerLen() int { return HeaderLen + int(s.ivLen) }

// padLen is the padding that aligns payload, Pad Length and Next Header
// to the cipher's block (RFC 4303 §2.4).
func (s *suite) padLen(n int) int { a := int(s.align); return (a - (n+2)%a) % a }

func encrName(id ipsec.TransformID) string  { return ipsec.TransformName(ipsec.TransformEncr, id) }
func integName(id ipsec.TransformID) string { return ipsec.TransformName(ipsec.TransformInteg, id) }
