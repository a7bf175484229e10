package crypto

import (
	"errors"
	"strings"
	"testing"

	"secgw/internal/ike/wire"
)

func TestNewIKESuite(t *testing.T) {
	type tc struct {
		encr          wire.TransformID
		bits          int
		integ, prf, g wire.TransformID
		want          KeyLengths // zero: must be rejected
	}
	const (
		sha1   = wire.PRFHMACSHA1
		sha256 = wire.PRFHMACSHA2_256
		sha384 = wire.PRFHMACSHA2_384
		sha512 = wire.PRFHMACSHA2_512
	)
	for _, c := range []tc{
		// RFC 7296 §2.14 key lengths: SK_d/SK_p = PRF key, SK_a = integrity
		// key, SK_e = encryption key (+ salt for AEADs).
		{wire.EncrAESCBC, 128, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP2048, KeyLengths{20, 20, 16}},
		{wire.EncrAESCBC, 192, wire.IntegHMACSHA2_256_128, sha256, wire.GroupMODP1024, KeyLengths{32, 32, 24}},
		{wire.EncrAESCBC, 256, wire.IntegHMACSHA2_384_192, sha384, wire.GroupECP384, KeyLengths{48, 48, 32}},
		{wire.EncrAESCBC, 256, wire.IntegHMACSHA2_512_256, sha512, wire.GroupECP521, KeyLengths{64, 64, 32}},
		{wire.EncrAESGCM8, 128, wire.IntegNone, sha256, wire.GroupECP256, KeyLengths{32, 0, 20}},
		{wire.EncrAESGCM12, 192, wire.IntegNone, sha256, wire.GroupMODP3072, KeyLengths{32, 0, 28}},
		{wire.EncrAESGCM16, 256, wire.IntegNone, sha512, wire.GroupCurve25519, KeyLengths{64, 0, 36}},
		{wire.EncrChaCha20Poly1305, 0, wire.IntegNone, sha256, wire.GroupMODP4096, KeyLengths{32, 0, 36}},

		{wire.EncrAESCBC, 0, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP2048, KeyLengths{}},      // Key Length missing
		{wire.EncrAESCBC, 512, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP2048, KeyLengths{}},    // bad Key Length
		{wire.EncrAESCBC, 128, wire.IntegNone, sha1, wire.GroupMODP2048, KeyLengths{}},           // no integrity
		{wire.EncrAESGCM16, 128, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP2048, KeyLengths{}},  // AEAD with integrity
		{wire.EncrChaCha20Poly1305, 256, wire.IntegNone, sha1, wire.GroupMODP2048, KeyLengths{}}, // fixed key with Key Length
		{wire.EncrChaCha20Poly1305, 0, wire.IntegHMACSHA1_96, sha1, wire.GroupECP256, KeyLengths{}},
		{wire.EncrAESCBC, 128, wire.IntegHMACSHA1_96, 0, wire.GroupMODP2048, KeyLengths{}},    // no PRF
		{wire.EncrAESCBC, 128, wire.IntegHMACSHA1_96, sha1, wire.GroupNone, KeyLengths{}},     // no group
		{wire.EncrAESCBC, 128, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP8192, KeyLengths{}}, // unsupported group
		{wire.EncrAESCTR, 128, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP2048, KeyLengths{}}, // ESP only here
		{wire.EncrNull, 0, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP2048, KeyLengths{}},     // never for IKE
		{wire.Encr3DES, 0, wire.IntegHMACSHA1_96, sha1, wire.GroupMODP2048, KeyLengths{}},     // not implemented
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
		if s.AEAD() != (c.integ == wire.IntegNone) {
			t.Errorf("%s: AEAD() = %v", s, s.AEAD())
		}
	}
}

func TestNewESPSuite(t *testing.T) {
	for _, c := range []struct {
		encr     wire.TransformID
		bits     int
		integ, g wire.TransformID
		want     KeyLengths
		ok       bool
	}{
		// RFC 7296 §2.17 with the per-algorithm KEYMAT sizes.
		{wire.EncrAESCBC, 128, wire.IntegHMACSHA2_256_128, wire.GroupNone, KeyLengths{0, 32, 16}, true},
		{wire.EncrAESCBC, 256, wire.IntegHMACSHA1_96, wire.GroupMODP2048, KeyLengths{0, 20, 32}, true},
		{wire.EncrAESCTR, 128, wire.IntegHMACSHA2_256_128, wire.GroupNone, KeyLengths{0, 32, 20}, true}, // RFC 3686 §5.1
		{wire.EncrAESGCM16, 128, wire.IntegNone, wire.GroupNone, KeyLengths{0, 0, 20}, true},            // RFC 4106 §8.1
		{wire.EncrAESGCM8, 256, wire.IntegNone, wire.GroupECP256, KeyLengths{0, 0, 36}, true},
		{wire.EncrChaCha20Poly1305, 0, wire.IntegNone, wire.GroupCurve25519, KeyLengths{0, 0, 36}, true}, // RFC 7634 §2
		{wire.EncrNull, 0, wire.IntegHMACSHA2_512_256, wire.GroupNone, KeyLengths{0, 64, 0}, true},

		{wire.EncrNull, 0, wire.IntegNone, wire.GroupNone, KeyLengths{}, false},
		{wire.EncrAESCBC, 128, wire.IntegNone, wire.GroupNone, KeyLengths{}, false},
		{wire.EncrAESGCM16, 128, wire.IntegHMACSHA2_256_128, wire.GroupNone, KeyLengths{}, false},
		{wire.EncrAESGCM16, 100, wire.IntegNone, wire.GroupNone, KeyLengths{}, false},
		{wire.EncrAESCBC, 128, wire.IntegHMACSHA1_96, wire.GroupCurve448, KeyLengths{}, false},
		{wire.Encr3DES, 0, wire.IntegHMACSHA1_96, wire.GroupNone, KeyLengths{}, false},
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
	s := Suite{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2_256_128, PRF: wire.PRFHMACSHA2_256, Group: wire.GroupMODP2048}
	if got := s.String(); got != "AES_CBC/128-HMAC_SHA2_256_128-HMAC_SHA2_256-MODP_2048" {
		t.Errorf("String = %q", got)
	}
	s = Suite{Encr: wire.EncrChaCha20Poly1305}
	if got := s.String(); got != "CHACHA20_POLY1305" {
		t.Errorf("String = %q", got)
	}
}
