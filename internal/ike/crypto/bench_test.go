package crypto

import (
	"fmt"
	"secgw/internal/ipsec"
	"testing"
)

// BenchmarkDH measures one side of a key exchange: key generation and the
// shared secret from a precomputed peer value.
func BenchmarkDH(b *testing.B) {
	for _, g := range []ipsec.TransformID{
		ipsec.GroupMODP2048, ipsec.GroupMODP3072, ipsec.GroupMODP4096,
		ipsec.GroupECP256, ipsec.GroupECP384, ipsec.GroupECP521, ipsec.GroupCurve25519,
	} {
		b.Run(groupName(g), func(b *testing.B) {
			peer, err := NewDH(g, nil)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				k, err := NewDH(g, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := k.SharedSecret(peer.PublicKey()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSuites are the SK ciphers measured, one per construction and key
// size class.
var benchSuites = []Suite{
	{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA1_96, PRF: ipsec.PRFHMACSHA2_256},
	{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256},
	{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_512_256, PRF: ipsec.PRFHMACSHA2_256},
	{Encr: ipsec.EncrAESGCM8, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_256},
	{Encr: ipsec.EncrAESGCM16, KeyBits: 128, PRF: ipsec.PRFHMACSHA2_256},
	{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_256},
	{Encr: ipsec.EncrChaCha20Poly1305, PRF: ipsec.PRFHMACSHA2_256},
}

func benchName(s Suite) string {
	s.PRF = 0
	return s.String()
}

const benchPayload = 1400

func BenchmarkSKSeal(b *testing.B) {
	for _, s := range benchSuites {
		b.Run(benchName(s), func(b *testing.B) {
			c := newTestSKCipher(b, s)
			pt := make([]byte, benchPayload)
			aad := skAAD(c.SealedLen(len(pt)))
			buf := make([]byte, 0, len(aad)+c.SealedLen(len(pt)))
			b.SetBytes(benchPayload)
			for b.Loop() {
				if _, err := c.Seal(buf, aad, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSKOpen(b *testing.B) {
	for _, s := range benchSuites {
		b.Run(benchName(s), func(b *testing.B) {
			c := newTestSKCipher(b, s)
			pt := make([]byte, benchPayload)
			aad := skAAD(c.SealedLen(len(pt)))
			body, _ := c.Seal(nil, aad, pt)
			buf := make([]byte, 0, len(body))
			b.SetBytes(benchPayload)
			for b.Loop() {
				if _, err := c.Open(buf, aad, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPRFPlus expands the IKE SA key material of AES-CBC-256 with
// HMAC-SHA2-256-128 and the given PRF: 3 PRF keys + 2 * 32 + 2 * 32 octets.
func BenchmarkPRFPlus(b *testing.B) {
	for _, id := range []ipsec.TransformID{ipsec.PRFHMACSHA1, ipsec.PRFHMACSHA2_256, ipsec.PRFHMACSHA2_384, ipsec.PRFHMACSHA2_512} {
		p := mustPRF(b, id)
		n := 3*p.KeySize() + 4*32
		b.Run(fmt.Sprintf("%s/%d", p, n), func(b *testing.B) {
			key, seed := seq(1, p.Size()), seq(2, 32+32+16)
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := p.PlusExpand(key, seed, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
