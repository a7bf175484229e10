package crypto

import (
	"bytes"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"encoding/hex"
	"errors"
	"secgw/internal/ipsec"
	"testing"
)

// TestAdditionalKEKeysKnownAnswer checks the key update after an
// additional key exchange (RFC 9370 §2.2.2):
//
//	SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)
//	{SK_d(n) | SK_ai(n) | SK_ar(n) | SK_ei(n) | SK_er(n) | SK_pi(n) | SK_pr(n)}
//	        = prf+ (SKEYSEED(n), Ni | Nr | SPIi | SPIr)
//
// against values computed independently of this package with Python 3's
// hmac and hashlib (prf = HMAC-SHA-256, prf+ of RFC 7296 §2.13 as in
// TestApplyPPKKnownAnswer), for AES-GCM-16/256 (SK_e* of 36 octets with
// the salt, no SK_a*):
//
//	skd, sk, ni, nr = seq(0x40, 32), seq(0x10, 32), seq(0xa0, 32), seq(0xb0, 32)
//	seed = hmac(skd, sk + ni + nr)
//	km = prfplus(seed, ni + nr + struct.pack(">QQ", 0x0102030405060708, 0x1112131415161718), 168)
func TestAdditionalKEKeysKnownAnswer(t *testing.T) {
	s, err := NewIKESuite(ipsec.EncrAESGCM16, 256, ipsec.IntegNone, ipsec.PRFHMACSHA2_256, ipsec.GroupCurve25519)
	if err != nil {
		t.Fatal(err)
	}
	prf, _ := s.NewPRF()
	k, err := AdditionalKEKeys(prf, seq(0x40, 32), s, seq(0x10, 32), seq(0xa0, 32), seq(0xb0, 32),
		0x0102030405060708, 0x1112131415161718)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"SK_d", k.SKd, "f4d8cc6e5693ad26f53da1d74ca136ea1ec76cd67bcdda386487909d36194bb0"},
		{"SK_ei", k.SKei, "00bafcf8327c35cc0b3a55f7286577758073789dcda70151df6cbb9bb9f4c416c8318412"},
		{"SK_er", k.SKer, "b49158ab9082147a35a615a7b1ff84311e2b6caabd7a80e5a0f606a2750e310cc8aad926"},
		{"SK_pi", k.SKpi, "a09484e1612faf251607657d372f246dc1780272263d7aef1df5a2d4671f3978"},
		{"SK_pr", k.SKpr, "65909c9ad9fbb4b02e01992eca442819c6f6046886d9285842655e5f0f0ee8e2"},
	} {
		if hex.EncodeToString(c.got) != c.want {
			t.Errorf("%s = %x, want %s", c.name, c.got, c.want)
		}
	}
	if len(k.SKai) != 0 || len(k.SKar) != 0 {
		t.Errorf("SK_a* with an AEAD: %x %x", k.SKai, k.SKar)
	}
}

// TestIntAuthKnownAnswer checks the IKE_INTERMEDIATE chain of RFC 9242
// §3.3.2 over two messages against Python 3 (hmac, hashlib, HMAC-SHA-256):
//
//	i1 = hmac(seq(0x20, 32), seq(0x00, 32) + seq(0x30, 40))
//	i2 = hmac(seq(0x60, 32), i1 + seq(0x80, 32) + seq(0x90, 1200))
//
// with A and P as arbitrary octets (the engine's tests check how A is
// built from a message).
func TestIntAuthKnownAnswer(t *testing.T) {
	prf, _ := NewPRF(ipsec.PRFHMACSHA2_256)
	i1 := IntAuth(prf, seq(0x20, 32), nil, seq(0x00, 32), seq(0x30, 40))
	if got, want := hex.EncodeToString(i1), "9e6cc692fb255b97dcad069ccccb82f037dd69d78aa2e70c4cb91dc0c0a6e199"; got != want {
		t.Errorf("IntAuth_1 = %s, want %s", got, want)
	}
	i2 := IntAuth(prf, seq(0x60, 32), i1, seq(0x80, 32), seq(0x90, 1200))
	if got, want := hex.EncodeToString(i2), "b353c3d527fcc11d7866310c80d8c73762965eca934cf0caeffc1685592724b5"; got != want {
		t.Errorf("IntAuth_2 = %s, want %s", got, want)
	}
}

// TestMLKEMExchange runs both sides of ML-KEM-768 and ML-KEM-1024 as a key
// exchange method: the encapsulation key and the ciphertext have the sizes
// of FIPS 203 Table 3, both sides get the same 32-octet key, and a
// ciphertext or encapsulation key of the wrong length is an invalid
// public value.
func TestMLKEMExchange(t *testing.T) {
	for _, c := range []struct {
		group     ipsec.TransformID
		ekLen, ct int
	}{
		{ipsec.GroupMLKEM768, 1184, 1088},
		{ipsec.GroupMLKEM1024, 1568, 1568},
	} {
		i, err := NewKE(c.group, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(i.PublicKey()) != c.ekLen || InitiatorKEDataLen(c.group) != c.ekLen || i.Group() != c.group {
			t.Fatalf("%v: encapsulation key of %d octets", c.group, len(i.PublicKey()))
		}
		ct, rs, err := RespondKE(c.group, i.PublicKey(), nil)
		if err != nil || len(ct) != c.ct || len(rs) != 32 {
			t.Fatalf("%v: RespondKE: %d-octet ciphertext, %v", c.group, len(ct), err)
		}
		is, err := i.SharedSecret(ct)
		if err != nil || !bytes.Equal(is, rs) {
			t.Fatalf("%v: shared keys differ: %x %x %v", c.group, is, rs, err)
		}
		if _, err := i.SharedSecret(ct[1:]); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%v: short ciphertext: %v", c.group, err)
		}
		if _, _, err := RespondKE(c.group, i.PublicKey()[1:], nil); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%v: short encapsulation key: %v", c.group, err)
		}
		if !SupportedAdditionalKE(c.group) || SupportedGroup(c.group) {
			t.Errorf("%v: additional only", c.group)
		}
	}
}

// TestMLKEMDeterministic checks the initiator's decapsulation against
// crypto/mlkem/mlkemtest's derandomized encapsulation: the key from a
// fixed seed (FIPS 203 §7.1 d | z) and a fixed message m (§7.2) give the
// same shared key on both sides, and one flipped ciphertext bit gives
// another key (implicit rejection, FIPS 203 §7.3), not an error.
func TestMLKEMDeterministic(t *testing.T) {
	k, err := newKEMFromSeed(ipsec.GroupMLKEM768, seq(0, 64))
	if err != nil {
		t.Fatal(err)
	}
	ek, err := mlkem.NewEncapsulationKey768(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	want, ct, err := mlkemtest.Encapsulate768(ek, seq(0x80, 32))
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.SharedSecret(ct)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("decapsulated %x, want %x (%v)", got, want, err)
	}
	ct[0] ^= 1
	if other, err := k.SharedSecret(ct); err != nil || bytes.Equal(other, want) {
		t.Errorf("tampered ciphertext: %x, %v", other, err)
	}
}

// FuzzKEMPeerData feeds arbitrary Key Exchange Data to both sides of
// ML-KEM: the responder's encapsulation to a received key and the
// initiator's decapsulation of a received ciphertext. Neither may panic;
// data of the wrong length is an invalid public value, and an accepted
// encapsulation key gives a ciphertext the key's owner could decapsulate.
func FuzzKEMPeerData(f *testing.F) {
	k, _ := newKEMFromSeed(ipsec.GroupMLKEM768, seq(0, 64))
	ct, _, _ := RespondKE(ipsec.GroupMLKEM768, k.PublicKey(), nil)
	f.Add(k.PublicKey(), true)
	f.Add(ct, false)
	f.Add([]byte{1, 2, 3}, true)
	f.Fuzz(func(t *testing.T, data []byte, large bool) {
		g := ipsec.GroupMLKEM768
		if large {
			g = ipsec.GroupMLKEM1024
		}
		if ct, secret, err := RespondKE(g, data, nil); err == nil {
			if len(data) != InitiatorKEDataLen(g) || len(ct) != kemCiphertextLen(g) || len(secret) != 32 {
				t.Fatalf("accepted %d octets, ciphertext %d, secret %d", len(data), len(ct), len(secret))
			}
		} else if !errors.Is(err, ErrInvalidPublicKey) {
			t.Fatalf("error %v", err)
		}
		i, _ := newKEMFromSeed(g, seq(1, 64))
		if _, err := i.SharedSecret(data); (err == nil) != (len(data) == kemCiphertextLen(g)) {
			t.Fatalf("decapsulating %d octets: %v", len(data), err)
		}
	})
}
