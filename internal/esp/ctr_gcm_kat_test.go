package esp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"secgw/internal/ipsec"
	"testing"
)

// ctrKATs are the test vectors of RFC 3686 §6 (#1 to #9): AES key, nonce,
// IV, plaintext and ciphertext.
var ctrKATs = []struct{ key, nonce, iv, plaintext, ciphertext string }{
	{"AE6852F8121067CC4BF7A5765577F39E", "00000030", "0000000000000000",
		"53696E676C6520626C6F636B206D7367", "E4095D4FB7A7B3792D6175A3261311B8"},
	{"7E24067817FAE0D743D6CE1F32539163", "006CB6DB", "C0543B59DA48D90B",
		"000102030405060708090A0B0C0D0E0F 101112131415161718191A1B1C1D1E1F",
		"5104A106168A72D9790D41EE8EDAD388 EB2E1EFC46DA57C8FCE630DF9141BE28"},
	{"7691BE035E5020A8AC6E618529F9A0DC", "00E0017B", "27777F3F4A1786F0",
		"000102030405060708090A0B0C0D0E0F 101112131415161718191A1B1C1D1E1F 20212223",
		"C1CF48A89F2FFDD9CF4652E9EFDB72D7 4540A42BDE6D7836D59A5CEAAEF31053 25B2072F"},
	{"16AF5B145FC9F579C175F93E3BFB0EED863D06CCFDB78515", "00000048", "36733C147D6D93CB",
		"53696E676C6520626C6F636B206D7367", "4B55384FE259C9C84E7935A003CBE928"},
	{"7C5CB2401B3DC33C19E7340819E0F69C678C3DB8E6F6A91A", "0096B03B", "020C6EADC2CB500D",
		"000102030405060708090A0B0C0D0E0F 101112131415161718191A1B1C1D1E1F",
		"453243FC609B23327EDFAAFA7131CD9F 8490701C5AD4A79CFC1FE0FF42F4FB00"},
	{"02BF391EE8ECB159B959617B0965279BF59B60A786D3E0FE", "0007BDFD", "5CBD60278DCC0912",
		"000102030405060708090A0B0C0D0E0F 101112131415161718191A1B1C1D1E1F 20212223",
		"96893FC55E5C722F540B7DD1DDF7E758 D288BC95C69165884536C811662F2188 ABEE0935"},
	{"776BEFF2851DB06F4C8A0542C8696F6C6A81AF1EEC96B4D37FC1D689E6C1C104", "00000060", "DB5672C97AA8F0B2",
		"53696E676C6520626C6F636B206D7367", "145AD01DBF824EC7560863DC71E3E0C0"},
	{"F6D66D6BD52D59BB0796365879EFF886C66DD51A5B6A99744B50590C87A23884", "00FAAC24", "C1585EF15A43D875",
		"000102030405060708090A0B0C0D0E0F 101112131415161718191A1B1C1D1E1F",
		"F05E231B3894612C49EE000B804EB2A9 B8306B508F839D6A5530831D9344AF1C"},
	{"FF7A617CE69148E4F1726E2F43581DE2AA62D9F805532EDFF1EED687FB54153D", "001CC5B7", "51A51D70A1C11148",
		"000102030405060708090A0B0C0D0E0F 101112131415161718191A1B1C1D1E1F 20212223",
		"EB6C52821D0BBBF7CE7594462ACA4FAA B407DF866569FD07F48CC0B583D6071F 1EC0E6B8"},
}

// TestCTRKnownAnswers checks AES-CTR against RFC 3686 §6: the counter
// block (nonce from the end of the key material, IV, counter from 1, §4)
// gives the published ciphertext, and so does Seal, whose IV is the
// sequence number (ESN makes all 64 bits of it the IV): a packet sent
// with the vector's IV carries its ciphertext, and opens to its
// plaintext.
func TestCTRKnownAnswers(t *testing.T) {
	for i, v := range ctrKATs {
		t.Run(fmt.Sprintf("#%d", i+1), func(t *testing.T) {
			keymat := append(unhex(t, v.key), unhex(t, v.nonce)...)
			iv, pt, ct := unhex(t, v.iv), unhex(t, v.plaintext), unhex(t, v.ciphertext)
			c := Config{SPI: 0x1000 + uint32(i), Encr: ipsec.EncrAESCTR, EncrKey: keymat,
				Integ: ipsec.IntegHMACSHA2_256_128, IntegKey: seqKey(32, 1), ESN: true, ReplayWindow: 64}
			s, err := newSuite(&c)
			if err != nil {
				t.Fatal(err)
			}
			buf := append([]byte(nil), pt...)
			s.xorCTR(buf, make([]byte, Scratch), iv, 1)
			if !bytes.Equal(buf, ct) {
				t.Fatalf("keystream: got %X, want %X", buf, ct)
			}
			seq := binary.BigEndian.Uint64(iv)
			if seq == 0 {
				return // sequence number 0 is never sent (RFC 4303 §3.3.3)
			}
			c.Seq = seq - 1
			o, err := NewOutbound(c)
			if err != nil {
				t.Fatal(err)
			}
			pkt := seal(t, o, pt, NextIPv4)
			if !bytes.Equal(pkt[8:16], iv) || !bytes.Equal(pkt[16:16+len(ct)], ct) {
				t.Fatalf("sealed %X, want IV %X and ciphertext %X", pkt, iv, ct)
			}
			in, err := NewInbound(c)
			if err != nil {
				t.Fatal(err)
			}
			in.win.top = seq - 1
			got, next, gotSeq, err := open(in, pkt)
			if err != nil || !bytes.Equal(got, pt) || next != NextIPv4 || gotSeq != seq {
				t.Fatalf("Open: %X next %d seq %#x err %v", got, next, gotSeq, err)
			}
		})
	}
}

// TestGCMShortICVKnownAnswers: the ICV of ENCR_AES_GCM_12 and _8 is the
// GCM tag truncated to 12 and 8 octets (RFC 4106 §6; NIST SP 800-38D §7.1
// step 6: T = MSB_t(...)), over the same ciphertext. So the GCM-16 packets
// of draft-mcgrew-gcm-test-01 (aeadKATs), their ICV truncated, are GCM-12
// and GCM-8 packets: each opens to the published plaintext, ESN cases
// included, and fails with any bit of the ICV, ciphertext or header
// flipped.
func TestGCMShortICVKnownAnswers(t *testing.T) {
	for _, v := range aeadKATs {
		if v.encr != ipsec.EncrAESGCM16 {
			continue
		}
		for _, c := range []struct {
			encr ipsec.TransformID
			icv  int
		}{{ipsec.EncrAESGCM12, 12}, {ipsec.EncrAESGCM8, 8}} {
			t.Run(fmt.Sprintf("%s ICV %d", v.name, c.icv), func(t *testing.T) {
				full := unhex(t, v.packet)
				pkt := full[:len(full)-16+c.icv]
				in, err := NewInbound(Config{SPI: SPI(pkt), Encr: c.encr, EncrKey: unhex(t, v.keymat), ESN: v.esn, ReplayWindow: 64})
				if err != nil {
					t.Fatal(err)
				}
				in.win.top = v.seq - 1
				payload, next, seq, err := open(in, pkt)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				pt := unhex(t, v.plaintext)
				pad := int(pt[len(pt)-2])
				if want := pt[:len(pt)-2-pad]; !bytes.Equal(payload, want) || next != pt[len(pt)-1] || seq != v.seq {
					t.Errorf("payload %x next %d seq %#x, want %x %d %#x", payload, next, seq, want, pt[len(pt)-1], v.seq)
				}
				for _, bit := range []int{0, 4*8 + 7, 9 * 8, 16 * 8, (len(pkt)-c.icv)*8 - 1, len(pkt)*8 - 1} {
					bad := append([]byte(nil), pkt...)
					bad[bit/8] ^= 1 << (bit % 8)
					in.win.top = v.seq - 1
					if _, _, _, err := open(in, bad); err == nil {
						t.Errorf("bit %d flipped: opened", bit)
					}
				}
			})
		}
	}
}

// TestGCMShortICVSeal: a GCM-12 or GCM-8 packet is the GCM-16 packet of
// the same key, sequence number and payload with its ICV truncated.
func TestGCMShortICVSeal(t *testing.T) {
	key := seqKey(36, 40)
	for _, esn := range []bool{false, true} {
		seq := uint64(5)
		if esn {
			seq = 0x1_0000_0000 // the high half in the AAD (RFC 4106 §5)
		}
		o16, _ := NewOutbound(Config{SPI: 7, Encr: ipsec.EncrAESGCM16, EncrKey: key, ESN: esn, Seq: seq})
		o12, _ := NewOutbound(Config{SPI: 7, Encr: ipsec.EncrAESGCM12, EncrKey: key, ESN: esn, Seq: seq})
		o8, _ := NewOutbound(Config{SPI: 7, Encr: ipsec.EncrAESGCM8, EncrKey: key, ESN: esn, Seq: seq})
		for n := range 40 {
			payload := seqKey(n, byte(n))
			p16, p12, p8 := seal(t, o16, payload, NextIPv6), seal(t, o12, payload, NextIPv6), seal(t, o8, payload, NextIPv6)
			if !bytes.Equal(p12, p16[:len(p16)-4]) || !bytes.Equal(p8, p16[:len(p16)-8]) {
				t.Fatalf("esn=%v n=%d:\n16 %x\n12 %x\n 8 %x", esn, n, p16, p12, p8)
			}
		}
	}
}

// TestGHASHMultiply checks the software GF(2^128) multiplication of
// AES-GCM-8 against the GCM specification's Test Case 2 (McGrew and
// Viega, "The Galois/Counter Mode of Operation", Appendix B: K = 0, IV =
// 0, P = 0^128): H, C and GHASH(H, {}, C) = (C·H ⊕ len)·H; and 1·H = H.
func TestGHASHMultiply(t *testing.T) {
	h := ghashKey{0x66e94bd4ef8a2c3b, 0x884cfa59ca342b2e}
	if s, err := newSuite(&Config{Encr: ipsec.EncrAESGCM8, EncrKey: make([]byte, 20)}); err != nil || s.gh != h {
		t.Fatalf("H of the zero key: %x (%v), want %x", s.gh, err, h)
	}
	if hi, lo := h.mul(1<<63, 0); hi != h.hi || lo != h.lo {
		t.Errorf("1·H = %016x%016x", hi, lo)
	}
	hi, lo := h.mul(0x0388dace60b6a392, 0xf328c2b971b2fe78) // C·H
	hi, lo = h.mul(hi, lo^128)                              // (C·H ⊕ (0 | 128 bits))·H
	if hi != 0xf38cbb1ad69223dc || lo != 0xc3457ae5b6b0f885 {
		t.Errorf("GHASH = %016x%016x, want f38cbb1ad69223dcc3457ae5b6b0f885", hi, lo)
	}
}

// TestSupports: the transforms and key lengths the package keys, as the
// IKE key derivation gives them (key material with the salt of the AEADs
// and the nonce of AES-CTR).
func TestSupports(t *testing.T) {
	for _, c := range []struct {
		encr     ipsec.TransformID
		encrLen  int
		integ    ipsec.TransformID
		integLen int
		want     bool
	}{
		{ipsec.EncrAESGCM16, 36, ipsec.IntegNone, 0, true},
		{ipsec.EncrAESGCM12, 28, ipsec.IntegNone, 0, true},
		{ipsec.EncrAESGCM8, 20, ipsec.IntegNone, 0, true},
		{ipsec.EncrAESGCM8, 16, ipsec.IntegNone, 0, false}, // no salt
		{ipsec.EncrAESGCM16, 36, ipsec.IntegHMACSHA2_256_128, 32, false},
		{ipsec.EncrChaCha20Poly1305, 36, ipsec.IntegNone, 0, true},
		{ipsec.EncrChaCha20Poly1305, 20, ipsec.IntegNone, 0, false},
		{ipsec.EncrAESCBC, 24, ipsec.IntegHMACSHA1_96, 20, true},
		{ipsec.EncrAESCBC, 20, ipsec.IntegHMACSHA1_96, 20, false},
		{ipsec.EncrAESCTR, 20, ipsec.IntegHMACSHA2_512_256, 64, true},
		{ipsec.EncrAESCTR, 36, ipsec.IntegHMACSHA2_384_192, 48, true},
		{ipsec.EncrAESCTR, 32, ipsec.IntegHMACSHA2_256_128, 32, false}, // no nonce
		{ipsec.EncrAESCTR, 20, ipsec.IntegNone, 0, false},
		{ipsec.EncrAESCTR, 20, ipsec.IntegHMACSHA1_96, 32, false},
		{ipsec.EncrNull, 0, ipsec.IntegHMACSHA1_96, 20, false},
	} {
		if got := Supports(c.encr, c.encrLen, c.integ, c.integLen); got != c.want {
			t.Errorf("Supports(%v, %d, %v, %d) = %v, want %v", c.encr, c.encrLen, c.integ, c.integLen, got, c.want)
		}
	}
}
