package crypto

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"secgw/internal/ipsec"
)

// maxPRFPlusBlocks is the number of prf outputs beyond which prf+ is not
// defined: the block counter is a single octet (RFC 7296 §2.13).
const maxPRFPlusBlocks = 255

// PRF is an IKEv2 pseudorandom function (Transform Type 2). All the
// supported PRFs are HMAC (RFC 2104) with SHA-1 (RFC 7296 §3.3.2) or SHA-2
// (RFC 4868 §2.1). The zero PRF is not usable; obtain one from NewPRF or
// Suite.PRF. A PRF is a small value and safe for concurrent use.
type PRF struct {
	id   ipsec.TransformID
	hash func() hash.Hash
	size int
}

// NewPRF returns the PRF with the given Transform ID: PRF_HMAC_SHA1,
// PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384 or PRF_HMAC_SHA2_512.
func NewPRF(id ipsec.TransformID) (PRF, error) {
	switch id {
	case ipsec.PRFHMACSHA1:
		return PRF{id, sha1.New, sha1.Size}, nil
	case ipsec.PRFHMACSHA2_256:
		return PRF{id, sha256.New, sha256.Size}, nil
	case ipsec.PRFHMACSHA2_384:
		return PRF{id, sha512.New384, sha512.Size384}, nil
	case ipsec.PRFHMACSHA2_512:
		return PRF{id, sha512.New, sha512.Size}, nil
	}
	return PRF{}, fmt.Errorf("%w: PRF %s", ErrUnsupported, ipsec.TransformName(ipsec.TransformPRF, id))
}

// ID returns the PRF's Transform ID.
func (p PRF) ID() ipsec.TransformID { return p.id }

// Size returns the length in octets of the PRF output.
func (p PRF) Size() int { return p.size }

// KeySize returns the preferred key length of the PRF in octets, which is
// the length of SK_d, SK_pi and SK_pr (RFC 7296 §2.14). For the HMAC PRFs
// it equals the output length (RFC 4868 §2.1.2, §2.4; RFC 2104 §3).
// HMAC accepts keys of any length; the key length matters only for the
// keys that prf+ derives.
func (p PRF) KeySize() int { return p.size }

// Sum returns prf(key, data).
func (p PRF) Sum(key, data []byte) []byte {
	return p.sum(key, data)
}

// sum returns prf(key, parts[0] | parts[1] | ...), sparing the caller the
// concatenation.
func (p PRF) sum(key []byte, parts ...[]byte) []byte {
	mac := hmac.New(p.hash, key)
	for _, b := range parts {
		mac.Write(b)
	}
	return mac.Sum(make([]byte, 0, p.size))
}

// errPRFPlusTooLong reports a prf+ request beyond 255 blocks.
var errPRFPlusTooLong = errors.New("crypto: prf+ output longer than 255 PRF blocks")

// PlusExpand returns the first n octets of prf+(key, seed) (RFC 7296
// §2.13):
//
//	prf+ (K,S) = T1 | T2 | T3 | T4 | ...
//	T1 = prf (K, S | 0x01)
//	T2 = prf (K, T1 | S | 0x02)
//	T3 = prf (K, T2 | S | 0x03)
//
// prf+ is not defined beyond 255 blocks: n greater than 255 * Size() is an
// error, as is a negative n. n = 0 returns an empty slice.
func (p PRF) PlusExpand(key, seed []byte, n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("crypto: negative prf+ length %d", n)
	}
	blocks := (n + p.size - 1) / p.size
	if blocks > maxPRFPlusBlocks {
		return nil, errPRFPlusTooLong
	}
	out := make([]byte, 0, blocks*p.size)
	mac := hmac.New(p.hash, key)
	var prev []byte // T(i-1); empty for T1
	for i := 1; i <= blocks; i++ {
		mac.Reset()
		mac.Write(prev)
		mac.Write(seed)
		mac.Write([]byte{byte(i)})
		out = mac.Sum(out) // capacity is preallocated: prev stays valid
		prev = out[len(out)-p.size:]
	}
	clear(out[n:])
	return out[:n:n], nil
}

// String returns the IANA name of the PRF, e.g. "HMAC_SHA2_256".
func (p PRF) String() string { return ipsec.TransformName(ipsec.TransformPRF, p.id) }

// Integ is an integrity algorithm (Transform Type 3): HMAC truncated to the
// first ICVSize octets. The supported algorithms and their key and ICV
// lengths are:
//
//	AUTH_HMAC_SHA1_96        key 20, ICV 12 (RFC 2404 §2, §3)
//	AUTH_HMAC_SHA2_256_128   key 32, ICV 16 (RFC 4868 §2.1.1, §2.3)
//	AUTH_HMAC_SHA2_384_192   key 48, ICV 24 (RFC 4868 §2.1.1, §2.3)
//	AUTH_HMAC_SHA2_512_256   key 64, ICV 32 (RFC 4868 §2.1.1, §2.3)
//
// The zero Integ is not usable; obtain one from NewInteg. An Integ is a
// small value and safe for concurrent use.
type Integ struct {
	id      ipsec.TransformID
	hash    func() hash.Hash
	keySize int
	icvSize int
}

// NewInteg returns the integrity algorithm with the given Transform ID.
// AUTH_NONE is not an algorithm and is rejected.
func NewInteg(id ipsec.TransformID) (Integ, error) {
	switch id {
	case ipsec.IntegHMACSHA1_96:
		return Integ{id, sha1.New, 20, 12}, nil
	case ipsec.IntegHMACSHA2_256_128:
		return Integ{id, sha256.New, 32, 16}, nil
	case ipsec.IntegHMACSHA2_384_192:
		return Integ{id, sha512.New384, 48, 24}, nil
	case ipsec.IntegHMACSHA2_512_256:
		return Integ{id, sha512.New, 64, 32}, nil
	}
	return Integ{}, fmt.Errorf("%w: integrity algorithm %s", ErrUnsupported, ipsec.TransformName(ipsec.TransformInteg, id))
}

// ID returns the Transform ID.
func (i Integ) ID() ipsec.TransformID { return i.id }

// KeySize returns the key length in octets, i.e. the length of SK_ai and
// SK_ar (RFC 7296 §2.14) or of an ESP integrity key (RFC 7296 §2.17).
func (i Integ) KeySize() int { return i.keySize }

// ICVSize returns the length of the truncated output, the Integrity
// Checksum Data (RFC 7296 §3.14).
func (i Integ) ICVSize() int { return i.icvSize }

// Sum returns the truncated HMAC of data under key. It does not check the
// key length; the SK ciphers do.
func (i Integ) Sum(key, data []byte) []byte {
	return i.sum(key, data)
}

func (i Integ) sum(key []byte, parts ...[]byte) []byte {
	mac := hmac.New(i.hash, key)
	for _, b := range parts {
		mac.Write(b)
	}
	return mac.Sum(nil)[:i.icvSize]
}

// Verify reports in constant time whether icv is the truncated HMAC of
// data under key.
func (i Integ) Verify(key, data, icv []byte) bool {
	return hmac.Equal(i.sum(key, data), icv)
}

// String returns the IANA name, e.g. "HMAC_SHA2_256_128".
func (i Integ) String() string { return ipsec.TransformName(ipsec.TransformInteg, i.id) }
