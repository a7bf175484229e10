package crypto

import (
	"errors"
	"secgw/internal/ipsec"
	"strings"
	"testing"
)

func TestNewIKESuite(t *testing.T) {
	type tc struct {
		encr          ipsec.TransformID
		bits          int
		integ, prf, g ipsec.TransformID
		want          KeyLengths // zero: must be rejected
	}
	const (
		sha1   = ipsec.PRFHMACSHA1
		sha256 = ipsec.PRFHMACSHA2_256
		sha384 = ipsec.PRFHMACSHA2_384
		sha512 = ipsec.PRFHMACSHA2_512
	)
	for _, c := range []tc{
		// RFC 7296 §2.14 key lengths: SK_d/SK_p = PRF key, SK_a = integrity
		// key, SK_e = encryption key (+ salt for AEADs).
		{ipsec.EncrAESCBC, 128, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP2048, KeyLengths{20, 20, 16}},
		{ipsec.EncrAESCBC, 192, ipsec.IntegHMACSHA2_256_128, sha256, ipsec.GroupMODP1024, KeyLengths{32, 32, 24}},
		{ipsec.EncrAESCBC, 256, ipsec.IntegHMACSHA2_384_192, sha384, ipsec.GroupECP384, KeyLengths{48, 48, 32}},
		{ipsec.EncrAESCBC, 256, ipsec.IntegHMACSHA2_512_256, sha512, ipsec.GroupECP521, KeyLengths{64, 64, 32}},
		{ipsec.EncrAESGCM8, 128, ipsec.IntegNone, sha256, ipsec.GroupECP256, KeyLengths{32, 0, 20}},
		{ipsec.EncrAESGCM12, 192, ipsec.IntegNone, sha256, ipsec.GroupMODP3072, KeyLengths{32, 0, 28}},
		{ipsec.EncrAESGCM16, 256, ipsec.IntegNone, sha512, ipsec.GroupCurve25519, KeyLengths{64, 0, 36}},
		{ipsec.EncrChaCha20Poly1305, 0, ipsec.IntegNone, sha256, ipsec.GroupMODP4096, KeyLengths{32, 0, 36}},

		{ipsec.EncrAESCBC, 0, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP2048, KeyLengths{}},      // Key Length missing
		{ipsec.EncrAESCBC, 512, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP2048, KeyLengths{}},    // bad Key Length
		{ipsec.EncrAESCBC, 128, ipsec.IntegNone, sha1, ipsec.GroupMODP2048, KeyLengths{}},           // no integrity
		{ipsec.EncrAESGCM16, 128, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP2048, KeyLengths{}},  // AEAD with integrity
		{ipsec.EncrChaCha20Poly1305, 256, ipsec.IntegNone, sha1, ipsec.GroupMODP2048, KeyLengths{}}, // fixed key with Key Length
		{ipsec.EncrChaCha20Poly1305, 0, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupECP256, KeyLengths{}},
		{ipsec.EncrAESCBC, 128, ipsec.IntegHMACSHA1_96, 0, ipsec.GroupMODP2048, KeyLengths{}},    // no PRF
		{ipsec.EncrAESCBC, 128, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupNone, KeyLengths{}},     // no group
		{ipsec.EncrAESCBC, 128, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP8192, KeyLengths{}}, // unsupported group
		{ipsec.EncrAESCTR, 128, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP2048, KeyLengths{}}, // ESP only here
		{ipsec.EncrNull, 0, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP2048, KeyLengths{}},     // never for IKE
		{ipsec.Encr3DES, 0, ipsec.IntegHMACSHA1_96, sha1, ipsec.GroupMODP2048, KeyLengths{}},     // not implemented
	} {
		s, err := NewIKESuite(c.encr, c.bits, c.integ, c.prf, c.g)
		if c.want == (KeyLengths{}) {
			if err == nil || !errors.Is(err, ErrUnsupported) || !strings.HasPrefix(err.Error(), "crypto: ") {
				t.Errorf("%s/%d %d %d %d accepted or bad error: %v", encrName(c.encr), c.bits, c.integ, c.prf, c.g, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s/%d: %v", encrName(c.encr), c.bits, err)
			continue
		}
		kl, err := s.IKEKeyLengths()
		if err != nil || kl != c.want {
			t.Errorf("%s: IKE key lengths %+v, want %+v (%v)", s, kl, c.want, err)
		}
		if s.AEAD() != (c.integ == ipsec.IntegNone) {
			t.Errorf("%s: AEAD() = %v", s, s.AEAD())
		}
	}
}

func TestNewESPSuite(t *testing.T) {
	for _, c := range []struct {
		encr     ipsec.TransformID
		bits     int
		integ, g ipsec.TransformID
		want     KeyLengths
		ok       bool
	}{
		// RFC 7296 §2.17 with the per-algorithm KEYMAT sizes.
		{ipsec.EncrAESCBC, 128, ipsec.IntegHMACSHA2_256_128, ipsec.GroupNone, KeyLengths{0, 32, 16}, true},
		{ipsec.EncrAESCBC, 256, ipsec.IntegHMACSHA1_96, ipsec.GroupMODP2048, KeyLengths{0, 20, 32}, true},
		{ipsec.EncrAESCTR, 128, ipsec.IntegHMACSHA2_256_128, ipsec.GroupNone, KeyLengths{0, 32, 20}, true}, // RFC 3686 §5.1
		{ipsec.EncrAESGCM16, 128, ipsec.IntegNone, ipsec.GroupNone, KeyLengths{0, 0, 20}, true},            // RFC 4106 §8.1
		{ipsec.EncrAESGCM8, 256, ipsec.IntegNone, ipsec.GroupECP256, KeyLengths{0, 0, 36}, true},
		{ipsec.EncrChaCha20Poly1305, 0, ipsec.IntegNone, ipsec.GroupCurve25519, KeyLengths{0, 0, 36}, true}, // RFC 7634 §2
		{ipsec.EncrNull, 0, ipsec.IntegHMACSHA2_512_256, ipsec.GroupNone, KeyLengths{0, 64, 0}, true},

		{ipsec.EncrNull, 0, ipsec.IntegNone, ipsec.GroupNone, KeyLengths{}, false},
		{ipsec.EncrAESCBC, 128, ipsec.IntegNone, ipsec.GroupNone, KeyLengths{}, false},
		{ipsec.EncrAESGCM16, 128, ipsec.IntegHMACSHA2_256_128, ipsec.GroupNone, KeyLengths{}, false},
		{ipsec.EncrAESGCM16, 100, ipsec.IntegNone, ipsec.GroupNone, KeyLengths{}, false},
		{ipsec.EncrAESCBC, 128, ipsec.IntegHMACSHA1_96, ipsec.GroupCurve448, KeyLengths{}, false},
		{ipsec.Encr3DES, 0, ipsec.IntegHMACSHA1_96, ipsec.GroupNone, KeyLengths{}, false},
	} {
		s, err := NewESPSuite(c.encr, c.bits, c.integ, c.g)
		if !c.ok {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("ESP %s/%d integ %d group %d: %v", encrName(c.encr), c.bits, c.integ, c.g, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ESP %s/%d: %v", encrName(c.encr), c.bits, err)
			continue
		}
		if kl, err := s.ESPKeyLengths(); err != nil || kl != c.want {
			t.Errorf("ESP %s: %+v, want %+v (%v)", s, kl, c.want, err)
		}
	}
}

func TestSuiteString(t *testing.T) {
	s := Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupMODP2048}
	if got := s.String(); got != "AES_CBC/128-HMAC_SHA2_256_128-HMAC_SHA2_256-MODP_2048" {
		t.Errorf("String = %q", got)
	}
	s = Suite{Encr: ipsec.EncrChaCha20Poly1305}
	if got := s.String(); got != "CHACHA20_POLY1305" {
		t.Errorf("String = %q", got)
	}
}
