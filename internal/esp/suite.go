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

	"golang.org/x/crypto/chacha20poly1305"

	"secgw/internal/ike/wire"
)

// Config is what both directions of an SA need. Keys are secrets: a
// Config is never logged.
type Config struct {
	SPI uint32
	// Encr is ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305 or ENCR_AES_CBC.
	// EncrKey of the AEADs ends with their 4-octet salt (RFC 4106 §8.1,
	// RFC 7634 §2).
	Encr    wire.TransformID
	EncrKey []byte
	// Integ is wire.IntegNone with an AEAD, else one of the HMACs.
	Integ    wire.TransformID
	IntegKey []byte
	// ESN selects 64-bit sequence numbers (RFC 4304).
	ESN bool
	// ReplayWindow is the inbound anti-replay window in packets (0 turns
	// the check off), at most MaxWindow.
	ReplayWindow uint32
	// Seq is, outbound, the last sequence number already used (0 for a
	// new SA; a standby taking over continues from the active's).
	Seq uint64
}

const (
	aeadIVLen   = 8  // explicit IV in the packet (RFC 4106 §3.1, RFC 7634 §2)
	aeadSaltLen = 4  // from the end of the key material (RFC 4106 §8.1)
	aeadTagLen  = 16 // ENCR_AES_GCM_16 and Poly1305 (RFC 4106 §6, RFC 7634 §2)
	aeadAlign   = 4  // RFC 4303 §2.4: the ICV is 4-octet aligned
)

// suite is the keyed transform of one SA direction.
type suite struct {
	aead cipher.AEAD // AEAD suites
	salt [aeadSaltLen]byte

	block   cipher.Block     // AES-CBC suites
	newHash func() hash.Hash // HMAC's hash
	macKey  []byte
	icvLen  int
	ivLen   int
	align   int // padding boundary: the cipher's block (RFC 4303 §2.4)
	// states is a free list of CBC+HMAC states (a channel rather than a
	// sync.Pool, which drops entries at random under the race detector
	// and at every GC).
	states chan *cbcState
}

// cbcState is the per-goroutine state of a CBC+HMAC SA: the block mode
// with SetIV (crypto/cipher's CBC implements it; crypto/tls relies on the
// same) and a keyed HMAC.
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
	s := &suite{}
	switch c.Encr {
	case wire.EncrAESGCM16, wire.EncrChaCha20Poly1305:
		if c.Integ != wire.IntegNone {
			return nil, fmt.Errorf("esp: %s is an AEAD and takes no integrity transform (got %s)", encrName(c.Encr), integName(c.Integ))
		}
		if len(c.EncrKey) <= aeadSaltLen {
			return nil, fmt.Errorf("esp: %d octets of key material for %s", len(c.EncrKey), encrName(c.Encr))
		}
		key := c.EncrKey[:len(c.EncrKey)-aeadSaltLen]
		copy(s.salt[:], c.EncrKey[len(key):])
		var err error
		if c.Encr == wire.EncrChaCha20Poly1305 {
			s.aead, err = chacha20poly1305.New(key)
		} else {
			var b cipher.Block
			if b, err = newAES(key, "AES-GCM"); err == nil {
				s.aead, err = cipher.NewGCM(b)
			}
		}
		if err != nil {
			return nil, err
		}
		s.ivLen, s.icvLen, s.align = aeadIVLen, aeadTagLen, aeadAlign
	case wire.EncrAESCBC:
		b, err := newAES(c.EncrKey, "AES-CBC")
		if err != nil {
			return nil, err
		}
		s.block = b
		s.ivLen, s.align = aes.BlockSize, aes.BlockSize
		var keyLen int
		switch c.Integ {
		case wire.IntegHMACSHA1_96: // RFC 2404 §2
			s.newHash, keyLen, s.icvLen = sha1.New, 20, 12
		case wire.IntegHMACSHA2_256_128: // RFC 4868 §2.1.1, §2.6
			s.newHash, keyLen, s.icvLen = sha256.New, 32, 16
		case wire.IntegHMACSHA2_384_192:
			s.newHash, keyLen, s.icvLen = sha512.New384, 48, 24
		case wire.IntegHMACSHA2_512_256:
			s.newHash, keyLen, s.icvLen = sha512.New, 64, 32
		default:
			return nil, fmt.Errorf("esp: unsupported integrity transform %s with AES-CBC", integName(c.Integ))
		}
		if len(c.IntegKey) != keyLen {
			return nil, fmt.Errorf("esp: %s needs a %d-octet key, got %d", integName(c.Integ), keyLen, len(c.IntegKey))
		}
		s.macKey = append([]byte(nil), c.IntegKey...)
		s.states = make(chan *cbcState, 4*runtime.GOMAXPROCS(0))
	default:
		return nil, fmt.Errorf("esp: unsupported encryption transform %s", encrName(c.Encr))
	}
	return s, nil
}

func newAES(key []byte, name string) (cipher.Block, error) {
	switch len(key) {
	case 16, 24, 32:
		return aes.NewCipher(key)
	}
	return nil, fmt.Errorf("esp: %s key of %d octets", name, len(key))
}

// getState takes a CBC+HMAC state from the free list, or makes one.
func (s *suite) getState() *cbcState {
	select {
	case st := <-s.states:
		return st
	default:
	}
	iv := make([]byte, aes.BlockSize)
	return &cbcState{
		enc: cipher.NewCBCEncrypter(s.block, iv).(cbcMode),
		dec: cipher.NewCBCDecrypter(s.block, iv).(cbcMode),
		mac: hmac.New(s.newHash, s.macKey),
	}
}

// putState returns a state to the free list (or drops it when full).
func (s *suite) putState(st *cbcState) {
	select {
	case s.states <- st:
	default:
	}
}

// headerLen is the ESP header and IV: where the payload starts.
func (s *suite) headerLen() int { return HeaderLen + s.ivLen }

// padLen is the padding that aligns payload, Pad Length and Next Header
// to the cipher's block (RFC 4303 §2.4).
func (s *suite) padLen(n int) int { return (s.align - (n+2)%s.align) % s.align }

func encrName(id wire.TransformID) string  { return wire.TransformName(wire.TransformEncr, id) }
func integName(id wire.TransformID) string { return wire.TransformName(wire.TransformInteg, id) }
