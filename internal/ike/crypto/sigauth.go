package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"

	"secgw/internal/ike/wire"
)

// Signature authentication (RFC 7296 §2.15 with the methods of RFC 7296
// §3.8, RFC 4754 and RFC 7427): the AUTH payload carries a signature of
// the signed octets (SignedOctets) with the private key of the signer's
// certificate.

// ErrSignature is the error of an AUTH payload whose signature does not
// verify, or whose method or algorithm does not fit the peer's key.
var ErrSignature = errors.New("crypto: signature authentication failed")

// OurHashAlgorithms are the hashes we announce in SIGNATURE_HASH_ALGORITHMS
// (RFC 7427 §4) and accept in a Digital Signature AUTH: SHA-2 and, for
// Ed25519, Identity (RFC 8420 §2). SHA-1 is not announced (RFC 8247 §3.3:
// SHA-1 MUST NOT be used for signatures), so a method 14 signature with it
// is refused; the classic method 1, which is SHA-1 by definition, is still
// verified for peers that need it.
var OurHashAlgorithms = []wire.HashAlgorithm{wire.HashSHA2_256, wire.HashSHA2_384, wire.HashSHA2_512, wire.HashIdentity}

// The object identifiers of the AlgorithmIdentifiers of RFC 7427
// Appendix A and RFC 8420.
var (
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519       = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// AlgorithmIdentifier is the ASN.1 AlgorithmIdentifier of a Digital
// Signature AUTH (RFC 7427 §3): an OID and its DER parameters, if any.
type AlgorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// pssParams is RSASSA-PSS-params (RFC 4055 §3.1) with the fields RFC 7427
// Appendix A.4 sends: hash, mask generation and salt length. The trailer
// field is always 1 (trailerFieldBC).
type pssParams struct {
	Hash         AlgorithmIdentifier `asn1:"explicit,tag:0"`
	MGF          AlgorithmIdentifier `asn1:"explicit,tag:1"`
	SaltLength   int                 `asn1:"explicit,tag:2"`
	TrailerField int                 `asn1:"optional,explicit,tag:3,default:1"`
}

// DigitalSignature is the Authentication Data of the Digital Signature
// method (RFC 7427 §3): ASN.1 Length (one octet), AlgorithmIdentifier
// (DER), Signature Value.
type DigitalSignature struct {
	// AlgorithmDER is the AlgorithmIdentifier exactly as received, at
	// most 255 octets (its length is one octet).
	AlgorithmDER []byte
	// Algorithm is AlgorithmDER decoded.
	Algorithm AlgorithmIdentifier
	// Signature is the Signature Value.
	Signature []byte
}

// ParseDigitalSignature decodes the Authentication Data of an AUTH
// payload of method 14 (RFC 7427 §3). The AlgorithmIdentifier must fill
// exactly its ASN.1 Length, and a signature value must follow.
func ParseDigitalSignature(data []byte) (*DigitalSignature, error) {
	if len(data) < 1 {
		return nil, errors.New("crypto: digital signature: no ASN.1 length")
	}
	n := int(data[0])
	if n == 0 || len(data) < 1+n {
		return nil, fmt.Errorf("crypto: digital signature: ASN.1 length %d exceeds the %d octets", n, len(data)-1)
	}
	ds := &DigitalSignature{AlgorithmDER: data[1 : 1+n : 1+n], Signature: data[1+n:]}
	rest, err := asn1.Unmarshal(ds.AlgorithmDER, &ds.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("crypto: digital signature: bad AlgorithmIdentifier: %v", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("crypto: digital signature: octets after the AlgorithmIdentifier")
	}
	if len(ds.Signature) == 0 {
		return nil, errors.New("crypto: digital signature: empty signature value")
	}
	return ds, nil
}

// Marshal encodes the Authentication Data (RFC 7427 §3).
func (ds *DigitalSignature) Marshal() []byte {
	out := make([]byte, 0, 1+len(ds.AlgorithmDER)+len(ds.Signature))
	out = append(out, byte(len(ds.AlgorithmDER)))
	out = append(out, ds.AlgorithmDER...)
	return append(out, ds.Signature...)
}

// hashOf maps an IKEv2 hash algorithm to Go's.
func hashOf(h wire.HashAlgorithm) (crypto.Hash, asn1.ObjectIdentifier) {
	switch h {
	case wire.HashSHA2_256:
		return crypto.SHA256, oidSHA256
	case wire.HashSHA2_384:
		return crypto.SHA384, oidSHA384
	case wire.HashSHA2_512:
		return crypto.SHA512, oidSHA512
	}
	return 0, nil
}

// digest hashes msg with h (SHA-1 or SHA-2).
func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA1:
		s := sha1.Sum(msg)
		return s[:]
	case crypto.SHA256:
		s := sha256.Sum256(msg)
		return s[:]
	case crypto.SHA384:
		s := sha512.Sum384(msg)
		return s[:]
	}
	s := sha512.Sum512(msg)
	return s[:]
}

// curveHash is the hash that goes with an ECDSA curve: that of its
// classic method (RFC 4754 §3), also preferred under method 14.
func curveHash(c elliptic.Curve) (wire.HashAlgorithm, wire.AuthMethod, int) {
	switch c {
	case elliptic.P256():
		return wire.HashSHA2_256, wire.AuthECDSASHA256P256, 32
	case elliptic.P384():
		return wire.HashSHA2_384, wire.AuthECDSASHA384P384, 48
	case elliptic.P521():
		return wire.HashSHA2_512, wire.AuthECDSASHA512P521, 66
	}
	return 0, 0, 0
}

// SignAuth signs the AUTH payload's signed octets with key and returns
// the AUTH method and Authentication Data. With the peer's
// SIGNATURE_HASH_ALGORITHMS (peerHashes, RFC 7427 §4) it uses the Digital
// Signature method 14: RSA keys sign with RSASSA-PSS (RFC 8247 §3.2 makes
// it the MUST for RSA), ECDSA keys with their curve's hash when the peer
// accepts it, Ed25519 with Identity (RFC 8420). Without, the classic
// methods: RSA PKCS#1 v1.5 with SHA-1 (method 1, RFC 7296 §3.8) and ECDSA
// per curve (methods 9, 10, 11, RFC 4754); Ed25519 has none.
func SignAuth(key crypto.Signer, peerHashes []wire.HashAlgorithm, octets []byte, rand io.Reader) (wire.AuthMethod, []byte, error) {
	rand = randOrDefault(rand)
	has := func(h wire.HashAlgorithm) bool { return slices.Contains(peerHashes, h) }
	pickSHA2 := func(prefer wire.HashAlgorithm) wire.HashAlgorithm {
		for _, h := range []wire.HashAlgorithm{prefer, wire.HashSHA2_256, wire.HashSHA2_384, wire.HashSHA2_512} {
			if has(h) {
				return h
			}
		}
		return 0
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if h := pickSHA2(wire.HashSHA2_256); h != 0 {
			ch, hoid := hashOf(h)
			params, err := asn1.Marshal(pssParams{
				Hash:         AlgorithmIdentifier{Algorithm: hoid, Parameters: asn1.NullRawValue},
				MGF:          AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: mustRaw(AlgorithmIdentifier{Algorithm: hoid, Parameters: asn1.NullRawValue})},
				SaltLength:   ch.Size(),
				TrailerField: 1,
			})
			if err != nil {
				return 0, nil, err
			}
			sig, err := key.Sign(rand, digest(ch, octets), &rsa.PSSOptions{SaltLength: ch.Size(), Hash: ch})
			if err != nil {
				return 0, nil, fmt.Errorf("crypto: RSA-PSS signature: %w", err)
			}
			return digitalSignature(AlgorithmIdentifier{Algorithm: oidRSAPSS, Parameters: asn1.RawValue{FullBytes: params}}, sig)
		}
		sig, err := key.Sign(rand, digest(crypto.SHA1, octets), crypto.SHA1)
		if err != nil {
			return 0, nil, fmt.Errorf("crypto: RSA signature: %w", err)
		}
		return wire.AuthRSASignature, sig, nil
	case *ecdsa.PublicKey:
		want, classic, size := curveHash(pub.Curve)
		if classic == 0 {
			return 0, nil, fmt.Errorf("crypto: ECDSA curve %s is not supported", pub.Curve.Params().Name)
		}
		if h := pickSHA2(want); h != 0 {
			ch, _ := hashOf(h)
			sig, err := key.Sign(rand, digest(ch, octets), ch) // ASN.1 DER Ecdsa-Sig-Value
			if err != nil {
				return 0, nil, fmt.Errorf("crypto: ECDSA signature: %w", err)
			}
			oid := map[wire.HashAlgorithm]asn1.ObjectIdentifier{wire.HashSHA2_256: oidECDSASHA256,
				wire.HashSHA2_384: oidECDSASHA384, wire.HashSHA2_512: oidECDSASHA512}[h]
			return digitalSignature(AlgorithmIdentifier{Algorithm: oid}, sig)
		}
		ch, _ := hashOf(want)
		der, err := key.Sign(rand, digest(ch, octets), ch)
		if err != nil {
			return 0, nil, fmt.Errorf("crypto: ECDSA signature: %w", err)
		}
		// RFC 4754 §7: r and s, each as long as the curve's order.
		var v struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &v); err != nil {
			return 0, nil, fmt.Errorf("crypto: ECDSA signature: %w", err)
		}
		out := make([]byte, 2*size)
		v.R.FillBytes(out[:size])
		v.S.FillBytes(out[size:])
		return classic, out, nil
	case ed25519.PublicKey:
		if !has(wire.HashIdentity) {
			return 0, nil, errors.New("crypto: Ed25519 needs the peer's Identity hash (RFC 8420) in SIGNATURE_HASH_ALGORITHMS")
		}
		sig, err := key.Sign(rand, octets, crypto.Hash(0))
		if err != nil {
			return 0, nil, fmt.Errorf("crypto: Ed25519 signature: %w", err)
		}
		return digitalSignature(AlgorithmIdentifier{Algorithm: oidEd25519}, sig)
	}
	return 0, nil, fmt.Errorf("crypto: private key type %T is not supported", key.Public())
}

func mustRaw(v any) asn1.RawValue {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{FullBytes: b}
}

func digitalSignature(alg AlgorithmIdentifier, sig []byte) (wire.AuthMethod, []byte, error) {
	der, err := asn1.Marshal(alg)
	if err != nil {
		return 0, nil, err
	}
	return wire.AuthDigitalSignature, (&DigitalSignature{AlgorithmDER: der, Signature: sig}).Marshal(), nil
}

// VerifyAuth verifies the Authentication Data of a signature AUTH payload
// (methods 1, 9, 10, 11 and 14) over the signed octets with the peer's
// public key. It returns ErrSignature, wrapped with the reason, when the
// method, algorithm or key do not fit or the signature does not verify.
func VerifyAuth(pub crypto.PublicKey, method wire.AuthMethod, data, octets []byte) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrSignature}, args...)...)
	}
	switch method {
	case wire.AuthRSASignature:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fail("method 1 (RSA) with a %s key", keyName(pub))
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA1, digest(crypto.SHA1, octets), data) != nil {
			return fail("RSA signature does not verify")
		}
		return nil
	case wire.AuthECDSASHA256P256, wire.AuthECDSASHA384P384, wire.AuthECDSASHA512P521:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fail("method %d (ECDSA) with a %s key", method, keyName(pub))
		}
		h, m, size := curveHash(k.Curve)
		if m != method {
			return fail("method %d does not fit the key's curve %s", method, k.Curve.Params().Name)
		}
		if len(data) != 2*size {
			return fail("ECDSA signature of %d octets, want %d", len(data), 2*size)
		}
		ch, _ := hashOf(h)
		r, s := new(big.Int).SetBytes(data[:size]), new(big.Int).SetBytes(data[size:])
		if !ecdsa.Verify(k, digest(ch, octets), r, s) {
			return fail("ECDSA signature does not verify")
		}
		return nil
	case wire.AuthDigitalSignature:
		ds, err := ParseDigitalSignature(data)
		if err != nil {
			return fail("%v", err)
		}
		return verifyDigital(pub, ds, octets)
	}
	return fail("AUTH method %d is not a signature method", method)
}

func verifyDigital(pub crypto.PublicKey, ds *DigitalSignature, octets []byte) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrSignature}, args...)...)
	}
	alg := ds.Algorithm.Algorithm
	switch {
	case alg.Equal(oidSHA256WithRSA), alg.Equal(oidSHA384WithRSA), alg.Equal(oidSHA512WithRSA):
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fail("RSA algorithm with a %s key", keyName(pub))
		}
		h := crypto.SHA256
		if alg.Equal(oidSHA384WithRSA) {
			h = crypto.SHA384
		} else if alg.Equal(oidSHA512WithRSA) {
			h = crypto.SHA512
		}
		if rsa.VerifyPKCS1v15(k, h, digest(h, octets), ds.Signature) != nil {
			return fail("RSA PKCS#1 signature does not verify")
		}
		return nil
	case alg.Equal(oidRSAPSS):
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fail("RSA-PSS algorithm with a %s key", keyName(pub))
		}
		var p pssParams
		if rest, err := asn1.Unmarshal(ds.Algorithm.Parameters.FullBytes, &p); err != nil || len(rest) != 0 {
			return fail("bad RSASSA-PSS parameters")
		}
		h := shaOf(p.Hash.Algorithm)
		var mgfHash AlgorithmIdentifier
		if h == 0 || !p.MGF.Algorithm.Equal(oidMGF1) || p.TrailerField != 1 || p.SaltLength < 0 {
			return fail("RSASSA-PSS parameters we do not support")
		}
		if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(rest) != 0 || shaOf(mgfHash.Algorithm) != h {
			return fail("RSASSA-PSS mask generation other than MGF1 with the signature's hash")
		}
		if rsa.VerifyPSS(k, h, digest(h, octets), ds.Signature, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: h}) != nil {
			return fail("RSA-PSS signature does not verify")
		}
		return nil
	case alg.Equal(oidECDSASHA256), alg.Equal(oidECDSASHA384), alg.Equal(oidECDSASHA512):
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fail("ECDSA algorithm with a %s key", keyName(pub))
		}
		h := crypto.SHA256
		if alg.Equal(oidECDSASHA384) {
			h = crypto.SHA384
		} else if alg.Equal(oidECDSASHA512) {
			h = crypto.SHA512
		}
		// RFC 7427 Appendix A.3: the signature value is the DER
		// Ecdsa-Sig-Value.
		if !ecdsa.VerifyASN1(k, digest(h, octets), ds.Signature) {
			return fail("ECDSA signature does not verify")
		}
		return nil
	case alg.Equal(oidEd25519):
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fail("Ed25519 algorithm with a %s key", keyName(pub))
		}
		if !ed25519.Verify(k, octets, ds.Signature) {
			return fail("Ed25519 signature does not verify")
		}
		return nil
	}
	return fail("signature algorithm %v is not supported", alg)
}

// shaOf maps a SHA-2 OID to its hash; 0 for any other.
func shaOf(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

func keyName(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
