package userspace

import (
	"secgw/internal/ipsec"
	"testing"
	"time"

	"secgw/internal/dataplane"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
)

// The daemon finds the capability by this interface (daemon/ike.go).
var _ engine.ESPSupport = (*Dataplane)(nil)

// TestSupportsESP: the userspace dataplane reports as
// supported every ESP suite the IKE engine negotiates but ENCR_NULL,
// AES-CTR (RFC 3686) and AES-GCM with 8- and 12-octet ICVs (RFC 4106)
// included, and installs an SA of each with the key lengths the IKE key
// derivation gives it (RFC 7296 §2.17).
func TestSupportsESP(t *testing.T) {
	d := &Dataplane{}
	integs := []ipsec.TransformID{ipsec.IntegHMACSHA1_96, ipsec.IntegHMACSHA2_256_128, ipsec.IntegHMACSHA2_384_192, ipsec.IntegHMACSHA2_512_256}
	var want []ikecrypto.Suite
	for _, bits := range []int{128, 192, 256} {
		for _, e := range []ipsec.TransformID{ipsec.EncrAESGCM16, ipsec.EncrAESGCM12, ipsec.EncrAESGCM8} {
			want = append(want, ikecrypto.Suite{Encr: e, KeyBits: bits})
		}
		for _, e := range []ipsec.TransformID{ipsec.EncrAESCBC, ipsec.EncrAESCTR} {
			for _, i := range integs {
				want = append(want, ikecrypto.Suite{Encr: e, KeyBits: bits, Integ: i})
			}
		}
	}
	want = append(want, ikecrypto.Suite{Encr: ipsec.EncrChaCha20Poly1305})
	for _, s := range want {
		if _, err := ikecrypto.NewESPSuite(s.Encr, s.KeyBits, s.Integ, ipsec.GroupNone); err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		if !d.SupportsESP(s) {
			t.Errorf("%v reported unsupported", s)
			continue
		}
		kl, _ := s.ESPKeyLengths()
		for _, dir := range []dataplane.Dir{dataplane.In, dataplane.Out} {
			c := dataplane.SA{SPI: 0x1234, Dir: dir, Encr: s.Encr, EncrKey: make([]byte, kl.Encr),
				Integ: s.Integ, IntegKey: make([]byte, kl.Integ), ReplayWindow: 32}
			if _, err := newSAState(&c, time.Now()); err != nil {
				t.Errorf("%v %v: %v", s, dir, err)
			}
		}
	}
	// ENCR_NULL (RFC 2410) is negotiable but not carried here; what the
	// IKE crypto refuses is not either.
	for _, s := range []ikecrypto.Suite{
		{Encr: ipsec.EncrNull, Integ: ipsec.IntegHMACSHA2_256_128},
		{Encr: ipsec.EncrAESGCM16, KeyBits: 128, Integ: ipsec.IntegHMACSHA1_96},
		{Encr: ipsec.EncrAESCTR, KeyBits: 64, Integ: ipsec.IntegHMACSHA1_96},
	} {
		if d.SupportsESP(s) {
			t.Errorf("%v reported supported", s)
		}
	}
}
