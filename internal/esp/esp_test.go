package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"math"
	"secgw/internal/ipsec"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// testSuite is one suite with fixed test keys.
type testSuite struct {
	name     string
	encr     ipsec.TransformID
	encrKey  []byte
	integ    ipsec.TransformID
	integKey []byte
}

func seqKey(n int, base byte) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = base + byte(i)
	}
	return k
}

// suites are the suites of the package, with keys of every length.
var suites = []testSuite{
	{"aes128gcm16", ipsec.EncrAESGCM16, seqKey(20, 1), ipsec.IntegNone, nil},
	{"aes256gcm16", ipsec.EncrAESGCM16, seqKey(36, 2), ipsec.IntegNone, nil},
	{"chacha20poly1305", ipsec.EncrChaCha20Poly1305, seqKey(36, 3), ipsec.IntegNone, nil},
	{"aes128-sha1_96", ipsec.EncrAESCBC, seqKey(16, 4), ipsec.IntegHMACSHA1_96, seqKey(20, 5)},
	{"aes256-sha256_128", ipsec.EncrAESCBC, seqKey(32, 6), ipsec.IntegHMACSHA2_256_128, seqKey(32, 7)},
	{"aes128-sha384_192", ipsec.EncrAESCBC, seqKey(16, 8), ipsec.IntegHMACSHA2_384_192, seqKey(48, 9)},
	{"aes256-sha512_256", ipsec.EncrAESCBC, seqKey(32, 10), ipsec.IntegHMACSHA2_512_256, seqKey(64, 11)},
	// AES-GCM with 12- and 8-octet ICVs, AES-CTR.
	{"aes128gcm12", ipsec.EncrAESGCM12, seqKey(20, 12), ipsec.IntegNone, nil},
	{"aes256gcm8", ipsec.EncrAESGCM8, seqKey(36, 13), ipsec.IntegNone, nil},
	{"aes192gcm8", ipsec.EncrAESGCM8, seqKey(28, 14), ipsec.IntegNone, nil},
	{"aes128ctr-sha1_96", ipsec.EncrAESCTR, seqKey(20, 15), ipsec.IntegHMACSHA1_96, seqKey(20, 16)},
	{"aes256ctr-sha256_128", ipsec.EncrAESCTR, seqKey(36, 17), ipsec.IntegHMACSHA2_256_128, seqKey(32, 18)},
}

func (s testSuite) config(spi uint32, esn bool, window uint32) Config {
	return Config{SPI: spi, Encr: s.encr, EncrKey: s.encrKey, Integ: s.integ, IntegKey: s.integKey, ESN: esn, ReplayWindow: window}
}

func (s testSuite) pair(t testing.TB, esn bool, window uint32) (*Outbound, *Inbound) {
	t.Helper()
	o, err := NewOutbound(s.config(0x01020304, esn, window))
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewInbound(s.config(0x01020304, esn, window))
	if err != nil {
		t.Fatal(err)
	}
	return o, in
}

// seal seals payload into a fresh buffer and returns a copy of the packet.
func seal(t testing.TB, o *Outbound, payload []byte, next byte) []byte {
	t.Helper()
	off := Scratch + o.HeaderLen()
	b := make([]byte, off+len(payload)+MaxTrailer)
	copy(b[off:], payload)
	pkt, err := o.Seal(b, off, len(payload), next)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return append([]byte(nil), pkt...)
}

// open opens a copy of pkt.
func open(in *Inbound, pkt []byte) ([]byte, byte, uint64, error) {
	b := withHeadroom(pkt)
	return in.Open(b, Scratch, len(b))
}

// independentOpen decrypts and authenticates an ESP packet of s with the
// standard library alone and returns the plaintext with its trailer: it
// checks the framing of Seal (IV, AAD, ICV input with ESN) without this
// package's code.
func independentOpen(t *testing.T, s testSuite, pkt []byte, esn bool, seq uint64) []byte {
	t.Helper()
	spiSeq := pkt[:8]
	aad := append([]byte(nil), spiSeq...)
	if esn {
		aad = binary.BigEndian.AppendUint32(append([]byte(nil), pkt[:4]...), uint32(seq>>32))
		aad = append(aad, pkt[4:8]...)
	}
	switch s.encr {
	case ipsec.EncrAESGCM16, ipsec.EncrAESGCM12, ipsec.EncrChaCha20Poly1305:
		key, salt := s.encrKey[:len(s.encrKey)-4], s.encrKey[len(s.encrKey)-4:]
		var a cipher.AEAD
		var err error
		if s.encr == ipsec.EncrChaCha20Poly1305 {
			a, err = chacha20poly1305.New(key)
		} else {
			var blk cipher.Block
			blk, _ = aes.NewCipher(key)
			a, err = cipher.NewGCMWithTagSize(blk, map[ipsec.TransformID]int{ipsec.EncrAESGCM16: 16, ipsec.EncrAESGCM12: 12}[s.encr])
		}
		if err != nil {
			t.Fatal(err)
		}
		nonce := append(append([]byte(nil), salt...), pkt[8:16]...)
		pt, err := a.Open(nil, nonce, pkt[16:], aad)
		if err != nil {
			t.Fatalf("independent AEAD open: %v", err)
		}
		return pt
	case ipsec.EncrAESGCM8:
		// crypto/cipher opens no 8-octet tag: decrypt with AES-CTR from
		// inc32(J0), seal the plaintext again with the full tag and
		// compare its first 8 octets (NIST SP 800-38D §7.1 step 6).
		key, salt := s.encrKey[:len(s.encrKey)-4], s.encrKey[len(s.encrKey)-4:]
		blk, _ := aes.NewCipher(key)
		a, _ := cipher.NewGCM(blk)
		nonce := append(append([]byte(nil), salt...), pkt[8:16]...)
		ct, icv := pkt[16:len(pkt)-8], pkt[len(pkt)-8:]
		pt := make([]byte, len(ct))
		cipher.NewCTR(blk, append(append([]byte(nil), nonce...), 0, 0, 0, 2)).XORKeyStream(pt, ct)
		full := a.Seal(nil, nonce, pt, aad)
		if !bytes.Equal(full[:len(ct)], ct) || !bytes.Equal(full[len(ct):len(ct)+8], icv) {
			t.Fatal("independent AES-GCM-8 check failed")
		}
		return pt
	}
	newHash, icvLen := map[ipsec.TransformID]func() hash.Hash{
		ipsec.IntegHMACSHA1_96: sha1.New, ipsec.IntegHMACSHA2_256_128: sha256.New,
		ipsec.IntegHMACSHA2_384_192: sha512.New384, ipsec.IntegHMACSHA2_512_256: sha512.New,
	}[s.integ], map[ipsec.TransformID]int{
		ipsec.IntegHMACSHA1_96: 12, ipsec.IntegHMACSHA2_256_128: 16, ipsec.IntegHMACSHA2_384_192: 24, ipsec.IntegHMACSHA2_512_256: 32,
	}[s.integ]
	body, icv := pkt[:len(pkt)-icvLen], pkt[len(pkt)-icvLen:]
	m := hmac.New(newHash, s.integKey)
	m.Write(body)
	if esn {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(seq>>32)))
	}
	if !bytes.Equal(m.Sum(nil)[:icvLen], icv) {
		t.Fatal("independent HMAC check failed")
	}
	if s.encr == ipsec.EncrAESCTR {
		// RFC 3686 §4: counter block nonce | IV | 1.
		key, nonce := s.encrKey[:len(s.encrKey)-4], s.encrKey[len(s.encrKey)-4:]
		blk, _ := aes.NewCipher(key)
		ct := append([]byte(nil), body[8+8:]...)
		cipher.NewCTR(blk, append(append(append([]byte(nil), nonce...), body[8:16]...), 0, 0, 0, 1)).XORKeyStream(ct, ct)
		return ct
	}
	blk, _ := aes.NewCipher(s.encrKey)
	ct := append([]byte(nil), body[8+16:]...)
	if len(ct)%16 != 0 {
		t.Fatalf("CBC ciphertext of %d octets", len(ct))
	}
	cipher.NewCBCDecrypter(blk, body[8:24]).CryptBlocks(ct, ct)
	return ct
}

// TestSealOpen seals payloads of every length up to a few blocks with each
// suite, with and without ESN, checks the packet with the standard library
// alone (framing, padding, trailer, ICV) and opens it again.
func TestSealOpen(t *testing.T) {
	for _, s := range suites {
		for _, esn := range []bool{false, true} {
			o, in := s.pair(t, esn, 64)
			if esn {
				o.seq.Store(0x00000001fffffff0) // high half in use
				in.win.top = 0x00000001fffffff0
			}
			for n := 0; n <= 70; n++ {
				payload := seqKey(n, byte(n))
				pkt := seal(t, o, payload, NextIPv4)
				seq := o.Seq()
				if len(pkt) != o.Overhead(n)+n {
					t.Fatalf("%s: %d-octet payload sealed into %d octets, Overhead says %d", s.name, n, len(pkt), o.Overhead(n)+n)
				}
				if SPI(pkt) != 0x01020304 || binary.BigEndian.Uint32(pkt[4:]) != uint32(seq) {
					t.Fatalf("%s: header %x", s.name, pkt[:8])
				}
				pt := independentOpen(t, s, pkt, esn, seq)
				pad := int(pt[len(pt)-2])
				align := 4
				if s.encr == ipsec.EncrAESCBC {
					align = 16
				}
				// RFC 4303 §2.4: the least padding that aligns
				// payload + 2 to the block, filled 1, 2, 3, ...
				if len(pt)%align != 0 || pad >= align || len(pt) != n+pad+2 || pt[len(pt)-1] != NextIPv4 {
					t.Fatalf("%s n=%d: trailer pad %d, total %d", s.name, n, pad, len(pt))
				}
				for i := range pad {
					if pt[n+i] != byte(i+1) {
						t.Fatalf("%s n=%d: padding %x", s.name, n, pt[n:n+pad])
					}
				}
				got, next, gotSeq, err := open(in, pkt)
				if err != nil || !bytes.Equal(got, payload) || next != NextIPv4 || gotSeq != seq {
					t.Fatalf("%s n=%d esn=%v: Open %x next %d seq %#x err %v", s.name, n, esn, got, next, gotSeq, err)
				}
			}
		}
	}
}

// TestCBCIVsDiffer: RFC 3602 §3 wants unpredictable IVs; at least they
// never repeat and are not the sequence number.
func TestCBCIVsDiffer(t *testing.T) {
	o, _ := suites[3].pair(t, false, 0)
	seen := map[string]bool{}
	for range 1000 {
		pkt := seal(t, o, []byte("x"), NextIPv4)
		iv := string(pkt[8:24])
		if seen[iv] {
			t.Fatal("CBC IV repeated")
		}
		seen[iv] = true
	}
}

// craft builds an AES-GCM ESP packet by hand around plaintext (payload
// and trailer as given), for trailers Seal would never produce.
func craft(t *testing.T, s testSuite, seq uint32, plaintext []byte) []byte {
	key, salt := s.encrKey[:len(s.encrKey)-4], s.encrKey[len(s.encrKey)-4:]
	blk, _ := aes.NewCipher(key)
	a, _ := cipher.NewGCM(blk)
	hdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 0x01020304), seq)
	iv := []byte{9, 9, 9, 9, 9, 9, 9, byte(seq)}
	pkt := append(append([]byte(nil), hdr...), iv...)
	return a.Seal(pkt, append(append([]byte(nil), salt...), iv...), plaintext, hdr)
}

// TestOpenTrailer: an authentic packet with a Pad Length beyond the
// payload, or padding that is not 1, 2, 3, ..., is refused; a zero
// padding and a dummy next header are passed up as they are.
func TestOpenTrailer(t *testing.T) {
	s := suites[0]
	_, in := s.pair(t, false, 64)
	for i, c := range []struct {
		pt   []byte
		want error
		n    int
	}{
		{[]byte{0xaa, 0xbb, 0, NextIPv6}, nil, 2},
		{[]byte{0xaa, 1, 2, NextIPv4}, ErrPadding, 0}, // padding "aa 01", not "01 02"
		{[]byte{0xaa, 0xbb, 1, 1, NextIPv4}, nil, 2},
		{[]byte{1, 2, 3, 3, NextIPv4}, nil, 0},
		{[]byte{1, 2, 4, NextIPv4}, ErrPadding, 0}, // Pad Length past the start
		{[]byte{0xaa, 2, 2, 2, NextIPv4}, ErrPadding, 0},
		{[]byte{0, NextDummy}, nil, 0},
	} {
		pkt := craft(t, s, uint32(i+1), c.pt)
		payload, next, _, err := open(in, pkt)
		if err != c.want {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
			continue
		}
		if err == nil && (len(payload) != c.n || next != c.pt[len(c.pt)-1]) {
			t.Errorf("case %d: payload %x next %d", i, payload, next)
		}
	}
}

// TestOpenMalformed: truncated packets, a foreign SPI and a CBC
// ciphertext that is not whole blocks are refused before any crypto.
func TestOpenMalformed(t *testing.T) {
	for _, s := range suites {
		o, in := s.pair(t, false, 64)
		pkt := seal(t, o, []byte("hello"), NextIPv4)
		for n := 0; n < len(pkt); n++ {
			if _, _, _, err := open(in, pkt[:n]); err == nil {
				t.Fatalf("%s: %d-octet prefix of a %d-octet packet opened", s.name, n, len(pkt))
			}
		}
		other := append([]byte(nil), pkt...)
		other[3] ^= 0xff
		if _, _, _, err := open(in, other); err != ErrSPI {
			t.Errorf("%s: foreign SPI: %v", s.name, err)
		}
		if _, _, _, err := in.Open(pkt, 0, len(pkt)); err != ErrBuffer {
			t.Errorf("%s: no headroom: %v", s.name, err)
		}
	}
	o, in := suites[4].pair(t, false, 64)
	pkt := seal(t, o, []byte("hello"), NextIPv4)
	if _, _, _, err := open(in, append(pkt[:len(pkt)-16-1:len(pkt)-16-1], pkt[len(pkt)-16:]...)); err != ErrLength {
		t.Errorf("CBC ciphertext of 15 octets: %v, want ErrLength", err)
	}
}

// TestSealBuffer: Seal refuses a buffer without the headroom for the
// header and scratch or the tailroom for the trailer.
func TestSealBuffer(t *testing.T) {
	o, _ := suites[0].pair(t, false, 0)
	off := Scratch + o.HeaderLen()
	if _, err := o.Seal(make([]byte, off+10+MaxTrailer), off-1, 10, 4); err != ErrBuffer {
		t.Errorf("short headroom: %v", err)
	}
	if _, err := o.Seal(make([]byte, off+10+MaxTrailer-1), off, 10, 4); err != ErrBuffer {
		t.Errorf("short tailroom: %v", err)
	}
	if o.Seq() != 0 {
		t.Errorf("refused Seals took sequence numbers: %d", o.Seq())
	}
}

// TestSeqOverflow: without ESN the last packet carries 2^32-1 and the SA
// then refuses to send (RFC 4303 §3.3.3); with ESN it goes on past 2^32.
func TestSeqOverflow(t *testing.T) {
	s := suites[0]
	c := s.config(1, false, 0)
	c.Seq = math.MaxUint32 - 2
	o, err := NewOutbound(c)
	if err != nil {
		t.Fatal(err)
	}
	seal(t, o, nil, NextIPv4)
	seal(t, o, nil, NextIPv4)
	if o.Seq() != math.MaxUint32 {
		t.Fatalf("Seq %#x", o.Seq())
	}
	b := make([]byte, 256)
	for range 3 {
		if _, err := o.Seal(b, Scratch+16, 10, NextIPv4); err != ErrSeqOverflow {
			t.Fatalf("Seal past 2^32-1: %v", err)
		}
	}
	if o.Seq() != math.MaxUint32 {
		t.Errorf("Seq after overflow %#x", o.Seq())
	}
	c.ESN = true
	o, _ = NewOutbound(c)
	for range 4 {
		seal(t, o, nil, NextIPv4)
	}
	if o.Seq() != math.MaxUint32+2 {
		t.Errorf("ESN Seq %#x", o.Seq())
	}
}

// TestESNWrap sends across the 2^32 boundary of the low half with ESN,
// delivered in order and reordered around the boundary: every packet
// opens with its full number, and replays of either side are refused.
func TestESNWrap(t *testing.T) {
	for _, s := range []testSuite{suites[0], suites[4]} {
		o, in := s.pair(t, true, 128)
		o.seq.Store(math.MaxUint32 - 40)
		var pkts [][]byte
		for range 80 {
			pkts = append(pkts, seal(t, o, []byte{1, 2, 3}, NextIPv4))
		}
		// Deliver 0..29 in order, then 50..79, then 30..49 (left behind
		// across the boundary, still inside the 128 window).
		order := []int{}
		for i := range 30 {
			order = append(order, i)
		}
		for i := 50; i < 80; i++ {
			order = append(order, i)
		}
		for i := 49; i >= 30; i-- {
			order = append(order, i)
		}
		for _, i := range order {
			want := uint64(math.MaxUint32-40) + uint64(i) + 1
			_, _, seq, err := open(in, pkts[i])
			if err != nil || seq != want {
				t.Fatalf("%s: packet %d: seq %#x err %v, want %#x", s.name, i, seq, err, want)
			}
		}
		for _, i := range []int{0, 39, 40, 41, 79} {
			if _, _, _, err := open(in, pkts[i]); !errors.Is(err, ErrReplay) && !errors.Is(err, ErrTooOld) {
				t.Errorf("%s: replay of %d: %v", s.name, i, err)
			}
		}
	}
}
