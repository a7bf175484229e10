package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"secgw/internal/ipsec"
	"testing"

	"secgw/internal/ike/wire"
)

// skSuites lists every IKE encryption/integrity combination.
func skSuites() []Suite {
	var out []Suite
	for _, bits := range aesKeyBits {
		for _, integ := range []ipsec.TransformID{ipsec.IntegHMACSHA1_96, ipsec.IntegHMACSHA2_256_128, ipsec.IntegHMACSHA2_384_192, ipsec.IntegHMACSHA2_512_256} {
			out = append(out, Suite{Encr: ipsec.EncrAESCBC, KeyBits: bits, Integ: integ, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519})
		}
		for _, encr := range []ipsec.TransformID{ipsec.EncrAESGCM8, ipsec.EncrAESGCM12, ipsec.EncrAESGCM16} {
			out = append(out, Suite{Encr: encr, KeyBits: bits, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519})
		}
	}
	return append(out, Suite{Encr: ipsec.EncrChaCha20Poly1305, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519})
}

// newTestSKCipher returns a cipher for s with random keys.
func newTestSKCipher(t testing.TB, s Suite) SKCipher {
	t.Helper()
	kl, err := s.IKEKeyLengths()
	if err != nil {
		t.Fatal(err)
	}
	enc, integ := make([]byte, kl.Encr), make([]byte, kl.Integ)
	rand.Read(enc)
	rand.Read(integ)
	c, err := NewSKCipher(s, enc, integ)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return c
}

// skAAD returns an IKE header (RFC 7296 §3.1) and an SK payload header
// (§3.14) whose Length fields count a body of bodyLen octets.
func skAAD(bodyLen int) []byte {
	h := make([]byte, wire.HeaderLen+4)
	copy(h, seq(0xc0, 16))                          // SPIi | SPIr
	h[16], h[17], h[18], h[19] = 46, 0x20, 35, 0x08 // SK, 2.0, IKE_AUTH, Initiator
	binary.BigEndian.PutUint32(h[20:], 1)           // Message ID
	binary.BigEndian.PutUint32(h[24:], uint32(len(h)+bodyLen))
	h[28] = 35 // first inner payload: IDi
	binary.BigEndian.PutUint16(h[30:], uint16(4+bodyLen))
	return h
}

func TestSKRoundTrip(t *testing.T) {
	for _, s := range skSuites() {
		c := newTestSKCipher(t, s)
		maxOver := 0
		for _, n := range []int{0, 1, 2, 14, 15, 16, 17, 31, 32, 33, 100, 1400} {
			pt := seq(byte(n), n)
			aad := skAAD(c.SealedLen(n))
			msg, err := c.Seal(aad, aad, pt)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			body := msg[len(aad):]
			if len(body) != c.SealedLen(n) || !bytes.Equal(msg[:len(aad)], aad) {
				t.Fatalf("%s n=%d: body %d octets, SealedLen %d", s, n, len(body), c.SealedLen(n))
			}
			if (len(body)-c.IVSize()-c.ICVSize())%c.BlockSize() != 0 {
				t.Errorf("%s n=%d: ciphertext not aligned to %d", s, n, c.BlockSize())
			}
			got, err := c.Open(nil, aad, body)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s n=%d: Open = %x, %v", s, n, got, err)
			}
			// Appending to a prefix keeps the prefix.
			got, err = c.Open([]byte("x"), aad, body)
			if err != nil || !bytes.Equal(got, append([]byte("x"), pt...)) {
				t.Errorf("%s n=%d: Open with dst = %q, %v", s, n, got, err)
			}
			// dst without the aad gives the body alone.
			body2, _ := c.Seal(nil, aad, pt)
			if len(body2) != len(body) || bytes.Equal(body2[:c.IVSize()], body[:c.IVSize()]) {
				t.Errorf("%s n=%d: second Seal has a different length or reuses the IV", s, n)
			}
			maxOver = max(maxOver, c.SealedLen(n)-n)
		}
		if maxOver != c.Overhead() {
			t.Errorf("%s: Overhead %d, largest seen %d", s, c.Overhead(), maxOver)
		}
	}
}

// TestSKTamper flips each bit of a sealed message in turn, in the IKE
// header, the SK payload header, the IV, the ciphertext and the ICV:
// every change must be detected.
func TestSKTamper(t *testing.T) {
	for _, s := range skSuites() {
		c := newTestSKCipher(t, s)
		pt := []byte("inner payloads: IDi, AUTH, SA, TSi, TSr")
		aad := skAAD(c.SealedLen(len(pt)))
		msg, _ := c.Seal(aad, aad, pt)
		for i := range msg {
			for bit := 0; bit < 8; bit++ {
				m := bytes.Clone(msg)
				m[i] ^= 1 << bit
				if got, err := c.Open(nil, m[:len(aad)], m[len(aad):]); !errors.Is(err, ErrAuthFailed) {
					t.Fatalf("%s: flipping bit %d of octet %d: %x, %v", s, bit, i, got, err)
				}
			}
		}
		// Truncated and extended bodies.
		body := msg[len(aad):]
		for _, b := range [][]byte{body[:len(body)-1], append(bytes.Clone(body), 0), body[:c.IVSize()], nil} {
			if _, err := c.Open(nil, aad, b); err == nil {
				t.Errorf("%s: %d-octet body accepted", s, len(b))
			}
		}
		// A body sealed under another key.
		other := newTestSKCipher(t, s)
		if _, err := other.Open(nil, aad, body); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s: other key: %v", s, err)
		}
	}
}

// sealRaw seals an already padded plaintext with a fixed IV.
func sealRaw(c SKCipher, iv, aad, padded []byte) []byte {
	switch c := c.(type) {
	case *cbcCipher:
		out := make([]byte, len(iv)+len(padded)+c.ICVSize())
		copy(out, iv)
		copy(out[len(iv):], padded)
		c.sealPadded(aad, out[:len(iv)+len(padded)], out[len(iv)+len(padded):])
		return out
	case *aeadCipher:
		out := make([]byte, aeadIVSize+len(padded)+gcmFullTag)
		copy(out[aeadIVSize:], padded)
		c.sealPadded(out, iv, aad, len(padded))
		return out[:aeadIVSize+len(padded)+c.icvSize]
	}
	panic("unknown cipher")
}

func TestSKPadding(t *testing.T) {
	aad := skAAD(0) // lengths do not matter here
	for _, s := range skSuites() {
		c := newTestSKCipher(t, s)
		iv := seq(0x10, c.IVSize())
		bs := c.BlockSize()
		cases := []struct {
			name    string
			padded  []byte
			want    []byte
			wantErr error
		}{
			// Any padding content and any length that fits is accepted.
			{"odd content", padTo([]byte("hello"), 0xee, 10, bs), []byte("hello"), nil},
			{"long padding", padTo([]byte("hello"), 0x5a, 26, bs), []byte("hello"), nil},
			{"all padding", padTo(nil, 0x01, 2*bs-1, bs), []byte{}, nil},
			// Pad Length beyond the decrypted data.
			{"pad length too big", padLenOnly(bs, byte(bs)), nil, ErrMalformed},
			{"pad length 255", padLenOnly(2*bs, 255), nil, ErrMalformed},
		}
		for _, tc := range cases {
			if len(tc.padded)%bs != 0 {
				t.Fatalf("bad test case %s", tc.name)
			}
			body := sealRaw(c, iv, aad, tc.padded)
			got, err := c.Open(nil, aad, body)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && !bytes.Equal(got, tc.want)) {
				t.Errorf("%s %s: %q, %v", s, tc.name, got, err)
			}
		}
		// An AEAD body must hold at least the Pad Length octet; a CBC one
		// at least one block, and whole blocks.
		if c.BlockSize() == 1 {
			if _, err := c.Open(nil, aad, sealRaw(c, iv, aad, nil)); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: empty plaintext: %v", s, err)
			}
		} else {
			misaligned := append(seq(0, 16+20), make([]byte, c.ICVSize())...)
			if _, err := c.Open(nil, aad, misaligned); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: misaligned body: %v", s, err)
			}
		}
	}
}

// padTo appends at least padLen octets of fill and the Pad Length to
// data, growing the padding until the total is a multiple of bs.
func padTo(data []byte, fill byte, padLen, bs int) []byte {
	for (len(data)+padLen+1)%bs != 0 {
		padLen++
	}
	out := append(bytes.Clone(data), bytes.Repeat([]byte{fill}, padLen)...)
	return append(out, byte(padLen))
}

// padLenOnly returns n octets ending with Pad Length v.
func padLenOnly(n int, v byte) []byte {
	b := make([]byte, n)
	b[n-1] = v
	return b
}

func TestSKCBCKnownAnswer(t *testing.T) {
	// RFC 3602 §4, Cases #1 and #2: AES-128-CBC; the ICV is HMAC-SHA-256
	// over aad | IV | ciphertext truncated to 128 bits (RFC 7296 §3.14,
	// RFC 4868).
	for _, v := range []struct{ key, iv, pt, ct string }{
		{"06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
			fmt.Sprintf("%x", "Single block msg"), "e353779c1079aeb82708942dbe77181a"},
		{"c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
	} {
		s := Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256}
		integKey := seq(0x20, 32)
		c, err := NewSKCipher(s, unhex(v.key), integKey)
		if err != nil {
			t.Fatal(err)
		}
		aad := skAAD(16 + len(v.ct)/2 + 16)
		body := sealRaw(c, unhex(v.iv), aad, unhex(v.pt))
		m := hmac.New(sha256.New, integKey)
		m.Write(aad)
		m.Write(unhex(v.iv + v.ct))
		want := append(unhex(v.iv+v.ct), m.Sum(nil)[:16]...)
		if !bytes.Equal(body, want) {
			t.Errorf("RFC 3602 vector: body\n %x\nwant %x", body, want)
		}
		// Seal takes the IV from the random source (RFC 7296 §3.14).
		c.(*cbcCipher).rand = bytes.NewReader(unhex(v.iv))
		body, err = c.Seal(nil, aad, []byte("Single block ms"))
		if err != nil || !bytes.Equal(body[:16], unhex(v.iv)) || len(body) != 16+16+16 {
			t.Errorf("Seal = %x, %v", body, err)
		}
		if _, err := c.Seal(nil, aad, nil); err == nil {
			t.Error("Seal with an exhausted random source succeeded")
		}
	}
}

// TestSKChaChaRFC7634 is the IKEv2 example of RFC 7634 Appendix B: an
// INFORMATIONAL request with a Notify payload (12 octets), no padding and
// Pad Length 0, sealed through the public API and parsed by package wire.
func TestSKChaChaRFC7634(t *testing.T) {
	s, err := NewIKESuite(ipsec.EncrChaCha20Poly1305, 0, ipsec.IntegNone, ipsec.PRFHMACSHA2_256, ipsec.GroupCurve25519)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewSKCipher(s, unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.(*aeadCipher).counter.Store(0x1011121314151617 - 1)
	aad := unhex("c0c1c2c3c4c5c6c7 d0d1d2d3d4d5d6d7 2e202500 00000009 00000045 29000029")
	inner := unhex("0000000c 00004001 0000000a")
	want := unhex("1011121314151617" + // IV
		"610394701f8d017f7c12924889" + // ciphertext
		"6b71bfe25236efd7cdc67066906315b2") // ICV
	if c.SealedLen(len(inner)) != len(want) {
		t.Fatalf("SealedLen %d, want %d", c.SealedLen(len(inner)), len(want))
	}
	msg, err := c.Seal(aad, aad, inner)
	if err != nil || !bytes.Equal(msg[len(aad):], want) {
		t.Fatalf("RFC 7634 App. B: body\n %x\nwant %x (%v)", msg[len(aad):], want, err)
	}
	m, err := wire.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	sk, ok := m.Payloads[len(m.Payloads)-1].(*wire.Encrypted)
	if !ok {
		t.Fatalf("last payload %T", m.Payloads[len(m.Payloads)-1])
	}
	got, err := c.Open(nil, msg[:len(msg)-len(sk.Body)], sk.Body)
	if err != nil || !bytes.Equal(got, inner) {
		t.Errorf("Open = %x, %v", got, err)
	}
}

// TestChaChaESPConstruction is RFC 7634 Appendix A (ESP): it checks the
// salt | IV nonce layout of the AEAD; the AAD is SPI | Sequence Number.
func TestChaChaESPConstruction(t *testing.T) {
	c, err := newAEADCipher(ipsec.EncrChaCha20Poly1305, append(seq(0x80, 32), 0xa0, 0xa1, 0xa2, 0xa3))
	if err != nil {
		t.Fatal(err)
	}
	pt := unhex(`45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10
		00073627 08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f
		3031323334353637 01020204`)
	want := unhex(`24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6
		14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da
		9165b82829f641e076aaa8266b7fb0f7b11b369907e1ad43`)
	nonce := c.nonce(seq(0x10, 8))
	if got := c.aead.Seal(nil, nonce[:], pt, unhex("01020304 00000005")); !bytes.Equal(got, want) {
		t.Errorf("RFC 7634 App. A:\n %x\nwant %x", got, want)
	}
}

// TestSKGCMKnownAnswers uses Test Cases 4 (AES-128) and 16 (AES-256) of
// the GCM specification (McGrew and Viega), the vectors RFC 4106 §3.1
// refers to, as IKE SK bodies: salt cafebabe, IV facedbaddecaf888. The 8-
// and 12-octet ICVs are the leading octets of the 16-octet tag (NIST SP
// 800-38D §7.1).
func TestSKGCMKnownAnswers(t *testing.T) {
	pt := unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
		"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
	aad := unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
	for _, v := range []struct{ key, ct, tag string }{
		{"feffe9928665731c6d6a8f9467308308",
			"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
			"5bc94fbc3221a5db94fae95ae7121a47"},
		{"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
			"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
			"76fc6ece0f4e1768cddf8853bb2d551b"},
	} {
		for _, id := range []ipsec.TransformID{ipsec.EncrAESGCM8, ipsec.EncrAESGCM12, ipsec.EncrAESGCM16} {
			c, err := newAEADCipher(id, unhex(v.key+"cafebabe"))
			if err != nil {
				t.Fatal(err)
			}
			iv := unhex("facedbaddecaf888")
			want := append(append(bytes.Clone(iv), unhex(v.ct)...), unhex(v.tag)[:c.icvSize]...)
			body := sealRaw(c, iv, aad, pt)
			if !bytes.Equal(body, want) {
				t.Errorf("%s/%d: body\n %x\nwant %x", encrName(id), len(v.key)*4, body, want)
			}
			// The last plaintext octet, 0x39, reads as Pad Length 57.
			got, err := c.Open(nil, aad, want)
			if err != nil || !bytes.Equal(got, pt[:len(pt)-1-0x39]) {
				t.Errorf("%s/%d: Open = %x, %v", encrName(id), len(v.key)*4, got, err)
			}
		}
	}
}

func TestNewSKCipherRejects(t *testing.T) {
	cbc := Suite{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256}
	gcm := Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 128, PRF: ipsec.PRFHMACSHA2_256}
	for _, tc := range []struct {
		s          Suite
		enc, integ int
	}{
		{cbc, 31, 32}, {cbc, 32, 31}, {cbc, 32, 0},
		{gcm, 16, 0}, {gcm, 20, 16}, {gcm, 36, 0},
		{Suite{Encr: ipsec.EncrAESCTR, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256}, 20, 32},
		{Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256}, 20, 32},
	} {
		if _, err := NewSKCipher(tc.s, make([]byte, tc.enc), make([]byte, tc.integ)); err == nil {
			t.Errorf("%s with %d/%d-octet keys accepted", tc.s, tc.enc, tc.integ)
		}
	}
	if _, err := newAEADCipher(ipsec.EncrAESCBC, make([]byte, 20)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("AES-CBC as AEAD: %v", err)
	}
	if _, err := newCBCCipher(make([]byte, 17), mustInteg(t, ipsec.IntegHMACSHA1_96), make([]byte, 20)); err == nil {
		t.Error("17-octet AES key accepted")
	}
}

// TestSKConcurrent seals and opens from several goroutines on shared
// ciphers (run with -race) and checks that no AEAD IV repeats.
func TestSKConcurrent(t *testing.T) {
	for _, s := range []Suite{skSuites()[1], skSuites()[len(skSuites())-2], skSuites()[len(skSuites())-1]} {
		c := newTestSKCipher(t, s)
		const workers, each = 4, 50
		ivs := make(chan string, workers*each)
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func() {
				for i := 0; i < each; i++ {
					pt := seq(byte(i), i)
					aad := skAAD(c.SealedLen(len(pt)))
					body, err := c.Seal(nil, aad, pt)
					if err == nil {
						var got []byte
						got, err = c.Open(nil, aad, body)
						if err == nil && !bytes.Equal(got, pt) {
							err = fmt.Errorf("round trip mismatch")
						}
					}
					if err != nil {
						errs <- err
						return
					}
					ivs <- string(body[:c.IVSize()])
				}
				errs <- nil
			}()
		}
		for w := 0; w < workers; w++ {
			if err := <-errs; err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		close(ivs)
		seen := map[string]bool{}
		for iv := range ivs {
			if seen[iv] {
				t.Fatalf("%s: IV %x used twice", s, iv)
			}
			seen[iv] = true
		}
	}
}

// TestIVCounterCarriesOver: an AEAD built anew for each message with the
// last IV of the previous instance goes on counting (RFC 5282 §3: an IV
// never repeats under one key), and its output opens with a fresh
// instance of the same key; AES-CBC has random IVs and no counter.
func TestIVCounterCarriesOver(t *testing.T) {
	for _, s := range skSuites() {
		kl, _ := s.IKEKeyLengths()
		enc, integ := make([]byte, kl.Encr), make([]byte, kl.Integ)
		rand.Read(enc)
		rand.Read(integ)
		first, _ := NewSKCipher(s, enc, integ)
		ic, ok := first.(IVCounter)
		if s.AEAD() != ok {
			t.Fatalf("%s: AEAD %v but IVCounter %v", s, s.AEAD(), ok)
		}
		if !ok {
			continue
		}
		ic.SetLastIV(41)
		aad := skAAD(first.SealedLen(3))
		out, err := first.Seal(nil, aad, []byte("abc"))
		if err != nil {
			t.Fatal(err)
		}
		if iv := binary.BigEndian.Uint64(out); iv != 42 || ic.LastIV() != 42 {
			t.Fatalf("%s: IV %d, last %d, want 42", s, iv, ic.LastIV())
		}
		next, _ := NewSKCipher(s, enc, integ)
		next.(IVCounter).SetLastIV(ic.LastIV())
		out2, _ := next.Seal(nil, aad, []byte("abc"))
		if iv := binary.BigEndian.Uint64(out2); iv != 43 {
			t.Fatalf("%s: second instance used IV %d, want 43", s, iv)
		}
		opener, _ := NewSKCipher(s, enc, integ)
		if plain, err := opener.Open(nil, aad, out2); err != nil || string(plain) != "abc" {
			t.Fatalf("%s: open %q, %v", s, plain, err)
		}
	}
}
