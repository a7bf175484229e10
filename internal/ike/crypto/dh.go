package crypto

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"secgw/internal/ipsec"
)

// DH is one side of an ephemeral key exchange (Transform Type 4, "Key
// Exchange Method"): a fresh private key and its public value. Use a DH for
// one exchange only (RFC 7296 §2.12 allows reuse but this package does not
// need it). A DH is safe for concurrent use.
type DH interface {
	// Group returns the Key Exchange Method (Diffie-Hellman group) ID.
	Group() ipsec.TransformID
	// PublicKey returns the Key Exchange Data of our KE payload, encoded
	// as RFC 7296 §3.4 (MODP: big-endian, left-padded with zeros to the
	// length of the prime), RFC 5903 §7 (ECP: x | y, each padded to the
	// field size, without the point-format octet) or RFC 8031 §2 (X25519:
	// the 32-octet u-coordinate) requires. The caller must not modify it.
	PublicKey() []byte
	// SharedSecret validates the peer's Key Exchange Data and returns
	// g^ir as RFC 7296 §2.14, RFC 5903 §7 and RFC 8031 §2 define it (MODP:
	// padded to the length of the prime; ECP: the x-coordinate only;
	// X25519: 32 octets, never all zero). Invalid peer data yields an
	// error wrapping ErrInvalidPublicKey.
	SharedSecret(peer []byte) ([]byte, error)
}

// NewDH generates a key pair for the given group: MODP groups 2 (RFC 2409
// §6.2), 5, 14, 15 and 16 (RFC 3526), the ECP groups 19, 20 and 21
// (RFC 5903) and Curve25519, group 31 (RFC 8031). rand is the entropy
// source for the MODP private exponent; nil means crypto/rand.Reader. For
// the elliptic curve groups it is passed to crypto/ecdh, which since Go
// 1.26 ignores it and always uses the system's secure source.
func NewDH(group ipsec.TransformID, rand io.Reader) (DH, error) {
	if m := modpGroupFor(group); m != nil {
		return newMODP(m, rand)
	}
	if c := curveFor(group); c != nil {
		priv, err := c.GenerateKey(randOrDefault(rand))
		if err != nil {
			return nil, fmt.Errorf("crypto: generating %s key: %w", groupName(group), err)
		}
		return newECDH(group, priv), nil
	}
	return nil, fmt.Errorf("%w: key exchange method %s", ErrUnsupported, groupName(group))
}

// SupportedGroup reports whether NewDH implements the group.
func SupportedGroup(group ipsec.TransformID) bool {
	return modpGroupFor(group) != nil || curveFor(group) != nil
}

// KeyExchangeDataLen returns the length of the Key Exchange Data of the
// group's KE payload, or 0 if the group is not supported. The engine can
// check a received KE payload against it before computing (RFC 7296 §3.4).
func KeyExchangeDataLen(group ipsec.TransformID) int {
	if m := modpGroupFor(group); m != nil {
		return m.size
	}
	switch group {
	case ipsec.GroupECP256:
		return 64
	case ipsec.GroupECP384:
		return 96
	case ipsec.GroupECP521:
		return 132
	case ipsec.GroupCurve25519:
		return 32
	}
	return 0
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

func groupName(g ipsec.TransformID) string { return ipsec.TransformName(ipsec.TransformKE, g) }

// curveFor maps an elliptic curve group to its crypto/ecdh curve.
func curveFor(group ipsec.TransformID) ecdh.Curve {
	switch group {
	case ipsec.GroupECP256:
		return ecdh.P256()
	case ipsec.GroupECP384:
		return ecdh.P384()
	case ipsec.GroupECP521:
		return ecdh.P521()
	case ipsec.GroupCurve25519:
		return ecdh.X25519()
	}
	return nil
}

// ecdhKey implements DH for the ECP groups and Curve25519.
type ecdhKey struct {
	group ipsec.TransformID
	priv  *ecdh.PrivateKey
	pub   []byte // Key Exchange Data
}

// newECDH wraps a crypto/ecdh private key; it is also the entry point for
// known-answer tests with fixed private keys.
func newECDH(group ipsec.TransformID, priv *ecdh.PrivateKey) *ecdhKey {
	pub := priv.PublicKey().Bytes()
	if group != ipsec.GroupCurve25519 {
		// SEC 1 uncompressed point 0x04 | x | y; RFC 5903 §7 drops the
		// point-format octet.
		pub = pub[1:]
	}
	return &ecdhKey{group: group, priv: priv, pub: pub}
}

// Group implements DH.Group.
func (k *ecdhKey) Group() ipsec.TransformID { return k.group }

// PublicKey implements DH.PublicKey.
func (k *ecdhKey) PublicKey() []byte { return k.pub }

// SharedSecret implements DH.SharedSecret.
func (k *ecdhKey) SharedSecret(peer []byte) ([]byte, error) {
	curve := k.priv.Curve()
	if len(peer) != len(k.pub) {
		return nil, fmt.Errorf("%w: %s key exchange data of %d octets, want %d",
			ErrInvalidPublicKey, groupName(k.group), len(peer), len(k.pub))
	}
	enc := peer
	if k.group != ipsec.GroupCurve25519 {
		// RFC 5903 §7: x | y. crypto/ecdh wants the SEC 1 uncompressed
		// form and checks that the coordinates are reduced and that the
		// point is on the curve and not the point at infinity, which is
		// the validation RFC 6989 §2.3 (and RFC 5903 §9) requires.
		enc = make([]byte, 1+len(peer))
		enc[0] = 4
		copy(enc[1:], peer)
	}
	pub, err := curve.NewPublicKey(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPublicKey, groupName(k.group), err)
	}
	secret, err := k.priv.ECDH(pub)
	if err != nil {
		// crypto/ecdh refuses an all-zero X25519 output (low-order point).
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPublicKey, groupName(k.group), err)
	}
	if k.group == ipsec.GroupCurve25519 && isAllZero(secret) {
		// RFC 8031 §2.2: an all-zero shared secret MUST be rejected.
		return nil, fmt.Errorf("%w: %s: all-zero shared secret", ErrInvalidPublicKey, groupName(k.group))
	}
	// For the NIST curves crypto/ecdh returns the x-coordinate of the
	// shared point as a fixed-length field element: the RFC 5903 §7 g^ir.
	return secret, nil
}

// isAllZero reports in constant time whether b is all zero.
func isAllZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return subtle.ConstantTimeByteEq(acc, 0) == 1
}
