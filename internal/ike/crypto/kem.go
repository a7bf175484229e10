package crypto

import (
	"crypto/mlkem"
	"fmt"
	"io"
	"secgw/internal/ipsec"
)

// ML-KEM (FIPS 203) as a key exchange method of IKEv2
// (draft-ietf-ipsecme-ikev2-mlkem; Transform Type 4 IDs 36 and 37): the
// initiator's KE payload carries the encapsulation key of a fresh key
// pair, the responder's the ciphertext it encapsulated to that key, and
// the 32-octet shared key is the key exchange's result (the g^ir or SK(n)
// of RFC 7296 §2.14 and RFC 9370 §2.2.2). Here ML-KEM runs as an
// additional key exchange (RFC 9370) after a Diffie-Hellman one; NewDH
// returns the initiator's side and RespondKE the responder's.

// isKEM reports whether group is an ML-KEM parameter set this package
// implements.
func isKEM(group ipsec.TransformID) bool {
	return group == ipsec.GroupMLKEM768 || group == ipsec.GroupMLKEM1024
}

// SupportedAdditionalKE reports whether group can be an additional key
// exchange (RFC 9370 ADDKE1..7): a Diffie-Hellman group of NewDH or
// ML-KEM-768/1024.
func SupportedAdditionalKE(group ipsec.TransformID) bool {
	return SupportedGroup(group) || isKEM(group)
}

// kemKey is the initiator's side of an ML-KEM exchange: a decapsulation
// key; PublicKey is its encapsulation key (1,184 octets for ML-KEM-768,
// 1,568 for ML-KEM-1024) and SharedSecret decapsulates the responder's
// ciphertext.
type kemKey struct {
	group  ipsec.TransformID
	dk768  *mlkem.DecapsulationKey768
	dk1024 *mlkem.DecapsulationKey1024
	pub    []byte
}

// newKEM generates a fresh decapsulation key; crypto/mlkem always draws
// from the system's secure source.
func newKEM(group ipsec.TransformID) (*kemKey, error) {
	k := &kemKey{group: group}
	var err error
	switch group {
	case ipsec.GroupMLKEM768:
		if k.dk768, err = mlkem.GenerateKey768(); err == nil {
			k.pub = k.dk768.EncapsulationKey().Bytes()
		}
	case ipsec.GroupMLKEM1024:
		if k.dk1024, err = mlkem.GenerateKey1024(); err == nil {
			k.pub = k.dk1024.EncapsulationKey().Bytes()
		}
	default:
		return nil, fmt.Errorf("%w: key exchange method %s", ErrUnsupported, groupName(group))
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: generating %s key: %w", groupName(group), err)
	}
	return k, nil
}

// newKEMFromSeed is newKEM with the 64-octet seed d | z of FIPS 203
// §7.1 (ML-KEM.KeyGen_internal), for known-answer tests.
func newKEMFromSeed(group ipsec.TransformID, seed []byte) (*kemKey, error) {
	k := &kemKey{group: group}
	var err error
	switch group {
	case ipsec.GroupMLKEM768:
		if k.dk768, err = mlkem.NewDecapsulationKey768(seed); err == nil {
			k.pub = k.dk768.EncapsulationKey().Bytes()
		}
	case ipsec.GroupMLKEM1024:
		if k.dk1024, err = mlkem.NewDecapsulationKey1024(seed); err == nil {
			k.pub = k.dk1024.EncapsulationKey().Bytes()
		}
	default:
		return nil, fmt.Errorf("%w: key exchange method %s", ErrUnsupported, groupName(group))
	}
	return k, err
}

// Group implements DH.Group.
func (k *kemKey) Group() ipsec.TransformID { return k.group }

// PublicKey implements DH.PublicKey: the encapsulation key.
func (k *kemKey) PublicKey() []byte { return k.pub }

// SharedSecret implements DH.SharedSecret: it decapsulates the
// responder's ciphertext. A ciphertext of the wrong length is an invalid
// public value; ML-KEM's implicit rejection makes any other ciphertext
// yield a key, which then fails the peer's AUTH.
func (k *kemKey) SharedSecret(ct []byte) ([]byte, error) {
	var (
		secret []byte
		err    error
	)
	if want := kemCiphertextLen(k.group); len(ct) != want {
		return nil, fmt.Errorf("%w: %s ciphertext of %d octets, want %d",
			ErrInvalidPublicKey, groupName(k.group), len(ct), want)
	}
	if k.dk768 != nil {
		secret, err = k.dk768.Decapsulate(ct)
	} else {
		secret, err = k.dk1024.Decapsulate(ct)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPublicKey, groupName(k.group), err)
	}
	return secret, nil
}

func kemCiphertextLen(group ipsec.TransformID) int {
	switch group {
	case ipsec.GroupMLKEM768:
		return mlkem.CiphertextSize768
	case ipsec.GroupMLKEM1024:
		return mlkem.CiphertextSize1024
	}
	return 0
}

// kemEncapsulate is the responder's side of ML-KEM: it checks the
// initiator's encapsulation key (FIPS 203 §7.2 input checks, which
// crypto/mlkem performs) and returns the ciphertext and the shared key.
func kemEncapsulate(group ipsec.TransformID, ek []byte) (ct, secret []byte, err error) {
	switch group {
	case ipsec.GroupMLKEM768:
		k, err := mlkem.NewEncapsulationKey768(ek)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalidPublicKey, groupName(group), err)
		}
		secret, ct = k.Encapsulate()
		return ct, secret, nil
	case ipsec.GroupMLKEM1024:
		k, err := mlkem.NewEncapsulationKey1024(ek)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalidPublicKey, groupName(group), err)
		}
		secret, ct = k.Encapsulate()
		return ct, secret, nil
	}
	return nil, nil, fmt.Errorf("%w: key exchange method %s", ErrUnsupported, groupName(group))
}

// RespondKE is the responder's side of any key exchange method this
// package implements, given the initiator's Key Exchange Data: for a
// Diffie-Hellman group a fresh key pair, its public value and g^ir; for
// ML-KEM the ciphertext encapsulated to the initiator's key and the
// shared key. data goes into the responder's KE payload. rand is as for
// NewDH.
func RespondKE(group ipsec.TransformID, peer []byte, rand io.Reader) (data, secret []byte, err error) {
	if isKEM(group) {
		return kemEncapsulate(group, peer)
	}
	dh, err := NewDH(group, rand)
	if err != nil {
		return nil, nil, err
	}
	secret, err = dh.SharedSecret(peer)
	if err != nil {
		return nil, nil, err
	}
	return dh.PublicKey(), secret, nil
}

// NewKE is the initiator's side of any key exchange method: NewDH for a
// Diffie-Hellman group, a fresh ML-KEM decapsulation key otherwise.
func NewKE(group ipsec.TransformID, rand io.Reader) (DH, error) {
	if isKEM(group) {
		return newKEM(group)
	}
	return NewDH(group, rand)
}

// InitiatorKEDataLen is the length of the initiator's Key Exchange Data
// for the method (the encapsulation key for ML-KEM), 0 if unsupported;
// the responder checks a received KE payload against it.
func InitiatorKEDataLen(group ipsec.TransformID) int {
	switch group {
	case ipsec.GroupMLKEM768:
		return mlkem.EncapsulationKeySize768
	case ipsec.GroupMLKEM1024:
		return mlkem.EncapsulationKeySize1024
	}
	return KeyExchangeDataLen(group)
}
