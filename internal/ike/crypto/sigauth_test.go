package crypto_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

func sigKeys(t testing.TB) map[string]crypto.Signer {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.Signer{"rsa": r}
	for name, c := range map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	keys["ed25519"] = ed
	return keys
}

// TestSignVerifyAuth signs and verifies every key type with the Digital
// Signature method (peer sent SIGNATURE_HASH_ALGORITHMS, RFC 7427 §4) and
// with the classic methods (it did not), and checks that a changed octet,
// another key and a swapped method fail.
func TestSignVerifyAuth(t *testing.T) {
	keys := sigKeys(t)
	octets := []byte("RealMessage1 | NonceRData | MACedIDForI")
	want := map[string]wire.AuthMethod{"rsa": wire.AuthRSASignature, "p256": wire.AuthECDSASHA256P256,
		"p384": wire.AuthECDSASHA384P384, "p521": wire.AuthECDSASHA512P521}
	for name, k := range keys {
		for _, hashes := range [][]wire.HashAlgorithm{ikecrypto.OurHashAlgorithms, nil} {
			m, data, err := ikecrypto.SignAuth(k, hashes, octets, nil)
			if hashes == nil && name == "ed25519" {
				if err == nil {
					t.Errorf("ed25519 signed without the peer's Identity hash")
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if hashes != nil && m != wire.AuthDigitalSignature {
				t.Errorf("%s: method %d with the peer's hashes, want 14", name, m)
			}
			if hashes == nil && m != want[name] {
				t.Errorf("%s: classic method %d, want %d", name, m, want[name])
			}
			if err := ikecrypto.VerifyAuth(k.Public(), m, data, octets); err != nil {
				t.Errorf("%s method %d: %v", name, m, err)
			}
			bad := bytes.Clone(octets)
			bad[0] ^= 1
			if err := ikecrypto.VerifyAuth(k.Public(), m, data, bad); !errors.Is(err, ikecrypto.ErrSignature) {
				t.Errorf("%s method %d: changed octets verified (%v)", name, m, err)
			}
			other := keys["p256"]
			if name == "p256" {
				other = keys["rsa"]
			}
			if err := ikecrypto.VerifyAuth(other.Public(), m, data, octets); err == nil {
				t.Errorf("%s method %d: verified with another key", name, m)
			}
		}
	}
	// A method that does not fit the key.
	_, data, _ := ikecrypto.SignAuth(keys["p256"], nil, octets, nil)
	if err := ikecrypto.VerifyAuth(keys["p256"].Public(), wire.AuthECDSASHA384P384, data, octets); err == nil {
		t.Error("P-256 signature accepted as method 10")
	}
	if err := ikecrypto.VerifyAuth(keys["p256"].Public(), wire.AuthSharedKeyMIC, data, octets); err == nil {
		t.Error("method 2 accepted as a signature")
	}
}

// TestRSAPSSOnlySHA2 checks that the RSA signature under method 14 is
// RSASSA-PSS with the peer's SHA-2 hash, and that the peer's list without
// SHA-2 falls back to method 1.
func TestRSAPSSOnlySHA2(t *testing.T) {
	k := sigKeys(t)["rsa"]
	octets := []byte("octets")
	m, data, err := ikecrypto.SignAuth(k, []wire.HashAlgorithm{wire.HashSHA2_512}, octets, nil)
	if err != nil || m != wire.AuthDigitalSignature {
		t.Fatalf("method %d, %v", m, err)
	}
	ds, err := ikecrypto.ParseDigitalSignature(data)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Algorithm.Algorithm.String() != "1.2.840.113549.1.1.10" {
		t.Errorf("algorithm %v, want id-RSASSA-PSS", ds.Algorithm.Algorithm)
	}
	if err := ikecrypto.VerifyAuth(k.Public(), m, data, octets); err != nil {
		t.Error(err)
	}
	if m, _, _ := ikecrypto.SignAuth(k, []wire.HashAlgorithm{wire.HashSHA1}, octets, nil); m != wire.AuthRSASignature {
		t.Errorf("peer with SHA-1 only: method %d, want 1", m)
	}
}

// TestDigitalSignatureRoundTrip re-encodes what it decodes and refuses
// every truncated prefix of a valid encoding.
func TestDigitalSignatureRoundTrip(t *testing.T) {
	for name, k := range sigKeys(t) {
		_, data, err := ikecrypto.SignAuth(k, ikecrypto.OurHashAlgorithms, []byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := ikecrypto.ParseDigitalSignature(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(ds.Marshal(), data) {
			t.Errorf("%s: round trip differs", name)
		}
		n := 1 + len(ds.AlgorithmDER)
		for i := 0; i <= n; i++ {
			if _, err := ikecrypto.ParseDigitalSignature(data[:i]); err == nil {
				t.Errorf("%s: truncated to %d octets accepted", name, i)
			}
		}
	}
}

// FuzzDigitalSignature decodes arbitrary Authentication Data: no panic,
// and what decodes re-encodes to the same octets.
func FuzzDigitalSignature(f *testing.F) {
	keys := sigKeys(f)
	for _, k := range keys {
		_, data, _ := ikecrypto.SignAuth(k, ikecrypto.OurHashAlgorithms, []byte("seed"), nil)
		f.Add(data)
	}
	pub := keys["p256"].Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := ikecrypto.ParseDigitalSignature(data)
		if err != nil {
			return
		}
		if !bytes.Equal(ds.Marshal(), data) {
			t.Fatalf("round trip differs")
		}
		// Verification of garbage fails, never panics.
		_ = ikecrypto.VerifyAuth(pub, wire.AuthDigitalSignature, data, []byte("x"))
	})
}
