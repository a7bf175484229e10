package esp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"secgw/internal/ipsec"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// aeadKAT is an ESP packet from a published test: the whole packet (SPI,
// sequence number, IV, ciphertext, ICV), the key material (key then salt),
// the full sequence number it was sent with and the plaintext with its
// trailer (padding, Pad Length, Next Header).
type aeadKAT struct {
	name      string
	encr      ipsec.TransformID
	keymat    string
	esn       bool
	seq       uint64
	packet    string
	plaintext string
}

// The AES-GCM cases are those of draft-mcgrew-gcm-test-01 §4 (the test
// cases RFC 4106 lacks), numbered as there; the ChaCha20-Poly1305 case is
// RFC 7634 Appendix A.
var aeadKATs = []aeadKAT{
	{
		name: "gcm-test-01 case 2 AES-128", encr: ipsec.EncrAESGCM16,
		keymat: "feffe9928665731c6d6a8f9467308308 cafebabe", seq: 0x0a,
		packet: `0000a5f80000000afacedbaddecaf888
			deb22cd9b07c72c16e3a65beeb8df304 a5a5897d33ae530f1ba76d5d114d2a5c
			3de81827c10e9a4f51330d0eec416642 cfbb85a5b47e48a4ec3b9ba95d918bd1
			83b70d3aa8bc6ee4c309e9d85a41ad4a`,
		plaintext: `4500003e698f000080114dccc0a80102 c0a801010a980035002a2343b2d00100
			00010000000000000373697009637962 65726369747902646b00000100010001`,
	},
	{
		name: "gcm-test-01 case 3 AES-256", encr: ipsec.EncrAESGCM16,
		keymat: "abbccddef00112233445566778899aababbccddef00112233445566778899aab 11223344", seq: 2,
		packet: `4a2cbfe3000000020102030405060708
			ff425c9b724599df7a3bcd510194e00d 6a78107f1b0b1cbf06efae9d65a5d763
			748a637985771d347f0545659f14e99d ef842d8eb335f4eecfdbf831824b4c49 15956c96`,
		plaintext: `4500003069a6400080062690c0a80102 9389155e0a9e008b2dc57ee000000000
			7002400020bf0000020405b401010402 01020201`,
	},
	{
		name: "gcm-test-01 case 5 AES-128 ESN", encr: ipsec.EncrAESGCM16,
		keymat: "3de09874b388e6491988d0c3607eae1f 57690e43", esn: true, seq: 0x1010101010101010,
		packet: `42f67e3f101010104e280000a2fca1a3
			fba2caa4853cf9f0f22cb10d86dd83b0 fec75691cf1a04b00d1138ec9c357917
			65acbd8701ad79845bf9fe3fba487bc9 1755e6662b4c8d0d1f5e22739530320a
			e0d731cc978ecafaeae88f00e80d6e48`,
		plaintext: `4500003c99c300008001cb7c40679318 010101010800085c0200430061626364
			65666768696a6b6c6d6e6f7071727374 75767761626364656667686901020201`,
	},
	{
		name: "gcm-test-01 case 1 AES-128 ESN, low half zero", encr: ipsec.EncrAESGCM16,
		keymat: "4c80cdefbb5d10da906ac73c3613a634 2e443b68", esn: true, seq: 0x8765432100000000,
		packet: `00004321000000004956ed7e3b244cfe
			fecf537e729d5b07dc30df528dd22b76 8d1b98736696a6fd348509fa13ceac34
			cfa2436f14a3f3cf65925bf1f4a13c5d 15b21e1884f5ff6247aeabb786b93bce
			61bc17d768fd9732459018148f6cbe72 2fd04796562dfdb4`,
		plaintext: `45000048699a000080114db7c0a80102 c0a801010a9bf15638d3010000010000
			00000000045f736970045f7564700373 69700963796265726369747902646b00
			0021000101020201`,
	},
	{
		name: "gcm-test-01 case 9 AES-256 ESN", encr: ipsec.EncrAESGCM16,
		keymat: "abbccddef00112233445566778899aababbccddef00112233445566778899aab 73616c74", esn: true,
		seq: 0x156f3126dd0db99b,
		packet: `17405e67dd0db99b616e640169766563
			f2d69ecdbd5a0d5b8d5ef38bad4da58d 1f278fde98ef67549d524a3018d9a57f
			f4d3a31ce673119e451626c2415771e3 b7eebca614c89b35`,
		plaintext: `45080028732c00004006e9f90a010612 0a01038f06b88023dd6bafbecb712602
			50101f646d540001`,
	},
	{
		name: "gcm-test-01 case 12 empty payload, seq 2^32-1", encr: ipsec.EncrAESGCM16,
		keymat: "7d773d00c144c525ac619d18c84a3f47 d9664267", seq: 0xffffffff,
		packet: `335467aeffffffff43457e9182443bc6
			437f866bcb3f699fe9b0822bac961c45 04bef270`,
		plaintext: `01020201`,
	},
	{
		name: "gcm-test-01 case 14 AES-256 ESN, seq 2^64-1", encr: ipsec.EncrAESGCM16,
		keymat: "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961 7475726e", esn: true,
		seq: 0xffffffffffffffff,
		packet: `796b6963ffffffff333021696765746d
			f97ab2aa356d8edce17644ac8c78e25d d24dedbb29ebf1b64a274b39b49c3a86
			4cd3d78ca4ae68a32b42458fb57dbe82 1dcc63b9d0937ba2945f669368661a32 9fb4c053`,
		plaintext: `45000030da3a00008001df3bc0a80005 c0a800010800c6cd0200070061626364
			65666768696a6b6c6d6e6f7071727374 01020201`,
	},
	{
		name: "RFC 7634 Appendix A ChaCha20-Poly1305", encr: ipsec.EncrChaCha20Poly1305,
		keymat: `808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f a0a1a2a3`, seq: 5,
		packet: `01020304 00000005 1011121314151617
			24039428b97f417e3c13753a4f05087b 67c352e6a7fab1b982d466ef407ae5c6
			14ee8099d52844eb61aa95dfab4c02f7 2aa71e7c4c4f64c9befe2facc638e8f3
			cbec163fac469b502773f6fb94e664da 9165b82829f641e0
			76aaa8266b7fb0f7b11b369907e1ad43`,
		plaintext: `4500 0054 a6f2 0000 4001 e778 c633 6405 c000 0205 0800 5b7a 3a08 0000 553b ec10
			0007 3627 0809 0a0b 0c0d 0e0f 1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223
			2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637 0102 0204`,
	},
}

// withHeadroom copies pkt into a buffer with Scratch octets before it.
func withHeadroom(pkt []byte) []byte {
	b := make([]byte, Scratch+len(pkt)+MaxTrailer)
	copy(b[Scratch:], pkt)
	return b[:Scratch+len(pkt)]
}

// TestAEADKnownAnswers opens each published packet: the SPI and the
// sequence number (its high half reconstructed from the window for ESN)
// must give the published plaintext and trailer.
func TestAEADKnownAnswers(t *testing.T) {
	for _, v := range aeadKATs {
		t.Run(v.name, func(t *testing.T) {
			pkt := unhex(t, v.packet)
			in, err := NewInbound(Config{SPI: SPI(pkt), Encr: v.encr, EncrKey: unhex(t, v.keymat), ESN: v.esn, ReplayWindow: 64})
			if err != nil {
				t.Fatal(err)
			}
			// Put the window just below the packet, so that ESN
			// reconstruction must find the published high half.
			in.win.top = v.seq - 1
			b := withHeadroom(pkt)
			payload, next, seq, err := in.Open(b, Scratch, len(b))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			pt := unhex(t, v.plaintext)
			pad := int(pt[len(pt)-2])
			if want := pt[:len(pt)-2-pad]; !bytes.Equal(payload, want) {
				t.Errorf("payload\n got %x\nwant %x", payload, want)
			}
			if next != pt[len(pt)-1] || seq != v.seq {
				t.Errorf("next header %d seq %#x, want %d %#x", next, seq, pt[len(pt)-1], v.seq)
			}
			// One flipped bit of the ICV fails, and the window stays.
			b = withHeadroom(pkt)
			b[len(b)-1] ^= 1
			in.win.top = v.seq - 1
			if _, _, _, err := in.Open(b, Scratch, len(b)); err != ErrAuth {
				t.Errorf("tampered ICV: %v, want ErrAuth", err)
			}
			if in.win.top != v.seq-1 {
				t.Errorf("window moved to %#x on a failed ICV", in.win.top)
			}
		})
	}
}

// TestCBCKnownAnswer opens RFC 3602 §4 case #5 (AES-128-CBC, transport
// mode ping), to which an HMAC-SHA1-96 and an HMAC-SHA-256-128 ICV are
// appended with crypto/hmac over the packet as RFC 4303 §3.3.4 defines it.
func TestCBCKnownAnswer(t *testing.T) {
	key := unhex(t, "90d382b4 10eeba7a d938c46c ec1a82bf")
	esp := unhex(t, `00004321 00000001 e96e8c08 ab465763 fd098d45 dd3ff893
		f663c25d 325c18c6 a9453e19 4e120849 a4870b66 cc6b9965 330013b4 898dc856
		a4699e52 3a55db08 0b59ec3a 8e4b7e52 775b07d1 db34ed9c 538ab50c 551b874a
		a269add0 47ad2d59 13ac19b7 cfbad4a6`)
	data := unhex(t, `08000ebd a70a0000 8e9c083d b95b0700 08090a0b 0c0d0e0f 10111213 14151617
		18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637`)
	for _, c := range []struct {
		integ ipsec.TransformID
		key   []byte
		icv   func(k, m []byte) []byte
	}{
		{ipsec.IntegHMACSHA1_96, bytes.Repeat([]byte{0x11}, 20), func(k, m []byte) []byte {
			h := hmac.New(sha1.New, k)
			h.Write(m)
			return h.Sum(nil)[:12]
		}},
		{ipsec.IntegHMACSHA2_256_128, bytes.Repeat([]byte{0x22}, 32), func(k, m []byte) []byte {
			h := hmac.New(sha256.New, k)
			h.Write(m)
			return h.Sum(nil)[:16]
		}},
	} {
		t.Run(fmt.Sprint(c.integ), func(t *testing.T) {
			in, err := NewInbound(Config{SPI: 0x4321, Encr: ipsec.EncrAESCBC, EncrKey: key, Integ: c.integ, IntegKey: c.key, ReplayWindow: 32})
			if err != nil {
				t.Fatal(err)
			}
			pkt := append(append([]byte(nil), esp...), c.icv(c.key, esp)...)
			b := withHeadroom(pkt)
			payload, next, seq, err := in.Open(b, Scratch, len(b))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(payload, data) || next != 1 || seq != 1 {
				t.Errorf("payload %x next %d seq %d", payload, next, seq)
			}
		})
	}
}

// TestHMACTruncation checks the ICV lengths and truncation of RFC 2404
// and RFC 4868 against their published test cases (key 0x0b..., "Hi
// There": RFC 2404 §3 / RFC 2202 test case 1, RFC 4868 §2.7.2.1 AUTH256-1).
func TestHMACTruncation(t *testing.T) {
	for _, c := range []struct {
		integ  ipsec.TransformID
		keyLen int
		want   string
	}{
		{ipsec.IntegHMACSHA1_96, 20, "b617318655057264e28bc0b6"},
		{ipsec.IntegHMACSHA2_256_128, 32, "198a607eb44bfbc69903a0f1cf2bbdc5"},
	} {
		s, err := newSuite(&Config{Encr: ipsec.EncrAESCBC, EncrKey: make([]byte, 16), Integ: c.integ,
			IntegKey: bytes.Repeat([]byte{0x0b}, c.keyLen)})
		if err != nil {
			t.Fatal(err)
		}
		st := s.getState()
		sum := s.mac(st, []byte("Hi There"), make([]byte, Scratch), false, 0)
		if got := hex.EncodeToString(sum[:s.icvLen]); got != c.want {
			t.Errorf("%v: %s, want %s", c.integ, got, c.want)
		}
	}
	for integ, icv := range map[ipsec.TransformID]int{ipsec.IntegHMACSHA2_384_192: 24, ipsec.IntegHMACSHA2_512_256: 32} {
		keyLen := map[ipsec.TransformID]int{ipsec.IntegHMACSHA2_384_192: 48, ipsec.IntegHMACSHA2_512_256: 64}[integ]
		s, err := newSuite(&Config{Encr: ipsec.EncrAESCBC, EncrKey: make([]byte, 32), Integ: integ, IntegKey: make([]byte, keyLen)})
		if err != nil || int(s.icvLen) != icv {
			t.Errorf("%v: ICV %d octets (%v), want %d (RFC 4868 §2.6)", integ, s.icvLen, err, icv)
		}
	}
}
