package engine

import (
	"fmt"
	"secgw/internal/ipsec"
	"strings"
	"testing"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// render writes proposals as "1:ENCR,ENCR/INTEG,INTEG/KE/ESN" lines, in
// transform order, for comparison.
func render(ps []wire.Proposal) string {
	var lines []string
	for _, p := range ps {
		var enc, integ, other []string
		for _, t := range p.Transforms {
			name := ipsec.TransformName(t.Type, t.ID)
			if bits, ok := t.KeyLength(); ok {
				name += fmt.Sprint("/", bits)
			}
			switch t.Type {
			case ipsec.TransformEncr:
				enc = append(enc, name)
			case ipsec.TransformInteg:
				integ = append(integ, name)
			default:
				other = append(other, name)
			}
		}
		lines = append(lines, fmt.Sprintf("%d:%s|%s|%s", p.Number, strings.Join(enc, ","), strings.Join(integ, ","), strings.Join(other, ",")))
	}
	return strings.Join(lines, "\n")
}

func encr(id ipsec.TransformID, bits uint16) wire.Transform {
	t := wire.Transform{Type: ipsec.TransformEncr, ID: id}
	if bits != 0 {
		t.Attributes = []wire.TransformAttribute{wire.KeyLengthAttribute(bits)}
	}
	return t
}

func integT(id ipsec.TransformID) wire.Transform {
	return wire.Transform{Type: ipsec.TransformInteg, ID: id}
}

// TestFilterESP: what a dataplane cannot carry leaves the proposals, and
// whatever a peer picks from what is left (one transform of each type)
// is carried.
func TestFilterESP(t *testing.T) {
	esn := wire.Transform{Type: ipsec.TransformESN, ID: ipsec.ESNDisabled}
	ke := wire.Transform{Type: ipsec.TransformKE, ID: ipsec.GroupCurve25519}
	mixed := wire.Proposal{Number: 1, Protocol: wire.ProtocolESP, Transforms: []wire.Transform{
		encr(ipsec.EncrAESCBC, 128), encr(ipsec.EncrAESCTR, 128),
		integT(ipsec.IntegHMACSHA1_96), integT(ipsec.IntegHMACSHA2_256_128), ke, esn}}
	gcm := wire.Proposal{Number: 2, Protocol: wire.ProtocolESP, Transforms: []wire.Transform{
		encr(ipsec.EncrAESGCM16, 256), encr(ipsec.EncrAESGCM8, 128), esn}}
	for _, c := range []struct {
		name string
		ok   func(ikecrypto.Suite) bool
		want string
	}{
		{"all", func(ikecrypto.Suite) bool { return true },
			"1:AES_CBC/128,AES_CTR/128|HMAC_SHA1_96,HMAC_SHA2_256_128|CURVE25519,NO_ESN\n2:AES_GCM_16/256,AES_GCM_8/128||NO_ESN"},
		{"no ctr", func(s ikecrypto.Suite) bool { return s.Encr != ipsec.EncrAESCTR },
			"1:AES_CBC/128|HMAC_SHA1_96,HMAC_SHA2_256_128|CURVE25519,NO_ESN\n2:AES_GCM_16/256,AES_GCM_8/128||NO_ESN"},
		{"no sha1: the integrity algorithm goes", func(s ikecrypto.Suite) bool { return s.Integ != ipsec.IntegHMACSHA1_96 },
			"1:AES_CBC/128,AES_CTR/128|HMAC_SHA2_256_128|CURVE25519,NO_ESN\n2:AES_GCM_16/256,AES_GCM_8/128||NO_ESN"},
		{"ctr only with sha256: split by cipher", func(s ikecrypto.Suite) bool {
			return s.Encr != ipsec.EncrAESCTR || s.Integ == ipsec.IntegHMACSHA2_256_128
		}, "1:AES_CBC/128|HMAC_SHA1_96,HMAC_SHA2_256_128|CURVE25519,NO_ESN\n2:AES_CTR/128|HMAC_SHA2_256_128|CURVE25519,NO_ESN\n" +
			"3:AES_GCM_16/256,AES_GCM_8/128||NO_ESN"},
		{"no gcm8", func(s ikecrypto.Suite) bool { return s.Encr != ipsec.EncrAESGCM8 },
			"1:AES_CBC/128,AES_CTR/128|HMAC_SHA1_96,HMAC_SHA2_256_128|CURVE25519,NO_ESN\n2:AES_GCM_16/256||NO_ESN"},
		{"no aes-256: by key length", func(s ikecrypto.Suite) bool { return s.KeyBits != 256 },
			"1:AES_CBC/128,AES_CTR/128|HMAC_SHA1_96,HMAC_SHA2_256_128|CURVE25519,NO_ESN\n2:AES_GCM_8/128||NO_ESN"},
		{"no aead: the proposal goes, the next is renumbered", func(s ikecrypto.Suite) bool { return !s.AEAD() },
			"1:AES_CBC/128,AES_CTR/128|HMAC_SHA1_96,HMAC_SHA2_256_128|CURVE25519,NO_ESN"},
		{"no hmac: renumbered from 1", func(s ikecrypto.Suite) bool { return s.AEAD() },
			"1:AES_GCM_16/256,AES_GCM_8/128||NO_ESN"},
		{"nothing", func(ikecrypto.Suite) bool { return false }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := filterESP([]wire.Proposal{mixed, gcm}, c.ok)
			if r := render(got); r != c.want {
				t.Errorf("got\n%s\nwant\n%s", r, c.want)
			}
			// Every combination left is carried.
			for _, p := range got {
				for _, e := range p.Transforms {
					if e.Type != ipsec.TransformEncr {
						continue
					}
					bits, _ := e.KeyLength()
					s := ikecrypto.Suite{Encr: e.ID, KeyBits: int(bits)}
					if s.AEAD() {
						if !c.ok(s) {
							t.Errorf("%v offered", s)
						}
						continue
					}
					for _, in := range p.Transforms {
						if in.Type == ipsec.TransformInteg {
							s.Integ = in.ID
							if !c.ok(s) {
								t.Errorf("%v offered", s)
							}
						}
					}
				}
			}
		})
	}
	// The configuration is not modified.
	if len(mixed.Transforms) != 6 || gcm.Number != 2 {
		t.Errorf("input modified: %v %v", mixed, gcm)
	}
}
