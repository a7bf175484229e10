package crypto

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"secgw/internal/ipsec"
	"strings"
	"testing"
)

// unhex decodes hex, ignoring spaces and newlines so that vectors can be
// laid out as in the RFCs. It panics on bad input: vectors are constants.
func unhex(s string) []byte {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\t' {
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// rep returns n copies of octet b.
func rep(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func mustPRF(t testing.TB, id ipsec.TransformID) PRF {
	t.Helper()
	p, err := NewPRF(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustInteg(t testing.TB, id ipsec.TransformID) Integ {
	t.Helper()
	i, err := NewInteg(id)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// seq returns n octets counting up from start.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// prfVectors are the PRF test vectors of RFC 4868 §2.7.1 (PRF-1..PRF-5,
// the RFC 4231 cases) and, for PRF_HMAC_SHA1, of RFC 2202 §3.
var prfVectors = []struct {
	name string
	id   ipsec.TransformID
	key  []byte
	data []byte
	want string
}{
	// RFC 2202 §3, test cases 1-3 (HMAC-SHA-1).
	{"2202-1", ipsec.PRFHMACSHA1, rep(0x0b, 20), []byte("Hi There"),
		"b617318655057264e28bc0b6fb378c8ef146be00"},
	{"2202-2", ipsec.PRFHMACSHA1, []byte("Jefe"), []byte("what do ya want for nothing?"),
		"effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
	{"2202-3", ipsec.PRFHMACSHA1, rep(0xaa, 20), rep(0xdd, 50),
		"125d7342b9ac11cd91a39af48aa17b4f63f175d3"},

	// RFC 4868 §2.7.1, PRF-1: Key = 0x0b * 20, Data = "Hi There".
	{"PRF-1/256", ipsec.PRFHMACSHA2_256, rep(0x0b, 20), []byte("Hi There"),
		"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{"PRF-1/384", ipsec.PRFHMACSHA2_384, rep(0x0b, 20), []byte("Hi There"),
		"afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c" +
			"faea9ea9076ede7f4af152e8b2fa9cb6"},
	{"PRF-1/512", ipsec.PRFHMACSHA2_512, rep(0x0b, 20), []byte("Hi There"),
		"87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde" +
			"daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
	// PRF-3: Key = 0xaa * 20, Data = 0xdd * 50.
	{"PRF-3/256", ipsec.PRFHMACSHA2_256, rep(0xaa, 20), rep(0xdd, 50),
		"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
	{"PRF-3/384", ipsec.PRFHMACSHA2_384, rep(0xaa, 20), rep(0xdd, 50),
		"88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b" +
			"2a5ab39dc13814b94e3ab6e101a34f27"},
	{"PRF-3/512", ipsec.PRFHMACSHA2_512, rep(0xaa, 20), rep(0xdd, 50),
		"fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39" +
			"bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
	// PRF-4: Key = 0x01..0x19, Data = 0xcd * 50.
	{"PRF-4/256", ipsec.PRFHMACSHA2_256, seq(1, 25), rep(0xcd, 50),
		"82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
	{"PRF-4/384", ipsec.PRFHMACSHA2_384, seq(1, 25), rep(0xcd, 50),
		"3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e" +
			"6801dd23c4a7d679ccf8a386c674cffb"},
	{"PRF-4/512", ipsec.PRFHMACSHA2_512, seq(1, 25), rep(0xcd, 50),
		"b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db" +
			"a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
	// PRF-5: Key = 0xaa * 131, a key longer than the hash block.
	{"PRF-5/256", ipsec.PRFHMACSHA2_256, rep(0xaa, 131),
		[]byte("Test Using Larger Than Block-Size Key - Hash Key First"),
		"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	{"PRF-5/384", ipsec.PRFHMACSHA2_384, rep(0xaa, 131),
		[]byte("Test Using Larger Than Block-Size Key - Hash Key First"),
		"4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6" +
			"0c2ef6ab4030fe8296248df163f44952"},
	{"PRF-5/512", ipsec.PRFHMACSHA2_512, rep(0xaa, 131),
		[]byte("Test Using Larger Than Block-Size Key - Hash Key First"),
		"80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352" +
			"6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
}

func TestPRFKnownAnswers(t *testing.T) {
	for _, v := range prfVectors {
		p := mustPRF(t, v.id)
		if got := p.Sum(v.key, v.data); !bytes.Equal(got, unhex(v.want)) {
			t.Errorf("%s: prf = %x, want %s", v.name, got, v.want)
		}
		if p.Size() != len(unhex(v.want)) || p.KeySize() != p.Size() {
			t.Errorf("%s: Size %d KeySize %d", v.name, p.Size(), p.KeySize())
		}
	}
}

func TestNewPRFRejects(t *testing.T) {
	for _, id := range []ipsec.TransformID{0, 1, 3, 4, 8, 9} {
		if _, err := NewPRF(id); !errors.Is(err, ErrUnsupported) || !strings.HasPrefix(err.Error(), "crypto: ") {
			t.Errorf("NewPRF(%d) error = %v", id, err)
		}
	}
}

// prfPlusReference computes prf+ literally from RFC 7296 §2.13 by
// concatenating T(i-1) | S | i and calling HMAC afresh for each block.
func prfPlusReference(p PRF, key, seed []byte, n int) []byte {
	var out, t []byte
	for i := 1; len(out) < n; i++ {
		in := append(append(append([]byte{}, t...), seed...), byte(i))
		m := hmac.New(p.hash, key)
		m.Write(in)
		t = m.Sum(nil)
		out = append(out, t...)
	}
	return out[:n]
}

func TestPRFPlus(t *testing.T) {
	key, seed := seq(0x40, 32), seq(0x80, 72)
	for _, id := range []ipsec.TransformID{ipsec.PRFHMACSHA1, ipsec.PRFHMACSHA2_256, ipsec.PRFHMACSHA2_384, ipsec.PRFHMACSHA2_512} {
		p := mustPRF(t, id)
		for _, n := range []int{0, 1, p.Size() - 1, p.Size(), p.Size() + 1, 3*p.Size() + 7, 255 * p.Size()} {
			got, err := p.PlusExpand(key, seed, n)
			if err != nil {
				t.Fatalf("%s n=%d: %v", p, n, err)
			}
			if want := prfPlusReference(p, key, seed, n); !bytes.Equal(got, want) {
				t.Errorf("%s n=%d: prf+ differs from the reference", p, n)
			}
			if len(got) != n || cap(got) != n {
				t.Errorf("%s n=%d: len %d cap %d", p, n, len(got), cap(got))
			}
		}
		// T1 = prf(K, S | 0x01) by hand.
		t1, _ := p.PlusExpand(key, seed, p.Size())
		if want := p.Sum(key, append(append([]byte{}, seed...), 1)); !bytes.Equal(t1, want) {
			t.Errorf("%s: T1 = %x, want %x", p, t1, want)
		}
		// A shorter output is a prefix of a longer one.
		long, _ := p.PlusExpand(key, seed, 100)
		short, _ := p.PlusExpand(key, seed, 33)
		if !bytes.Equal(long[:33], short) {
			t.Errorf("%s: prf+ output is not prefix-stable", p)
		}
	}
}

func TestPRFPlusLimit(t *testing.T) {
	for _, id := range []ipsec.TransformID{ipsec.PRFHMACSHA1, ipsec.PRFHMACSHA2_256, ipsec.PRFHMACSHA2_512} {
		p := mustPRF(t, id)
		if _, err := p.PlusExpand([]byte("k"), []byte("s"), 255*p.Size()); err != nil {
			t.Errorf("%s: 255 blocks: %v", p, err)
		}
		_, err := p.PlusExpand([]byte("k"), []byte("s"), 255*p.Size()+1)
		if err == nil || !strings.HasPrefix(err.Error(), "crypto: ") {
			t.Errorf("%s: 255 blocks + 1 octet: err = %v", p, err)
		}
		if _, err := p.PlusExpand(nil, nil, -1); err == nil {
			t.Errorf("%s: negative length accepted", p)
		}
	}
}

// integVectors are the authenticator test vectors of RFC 4868 §2.7.2
// (keys of the full integrity key length) and, for AUTH_HMAC_SHA1_96, the
// RFC 2202 §3 HMAC-SHA-1 cases truncated to 96 bits as RFC 2404 §3
// specifies.
var integVectors = []struct {
	name string
	id   ipsec.TransformID
	key  []byte
	data []byte
	want string
}{
	// RFC 2202 §3 test cases 1-3, truncated (RFC 2404).
	{"2202-1/96", ipsec.IntegHMACSHA1_96, rep(0x0b, 20), []byte("Hi There"), "b617318655057264e28bc0b6"},
	{"2202-3/96", ipsec.IntegHMACSHA1_96, rep(0xaa, 20), rep(0xdd, 50), "125d7342b9ac11cd91a39af4"},

	// RFC 4868 §2.7.2.1 (SHA-256-128), §2.7.2.2 (SHA-384-192), §2.7.2.3
	// (SHA-512-256), test case AUTH-1: Key = 0x0b * key length.
	{"AUTH-1/256", ipsec.IntegHMACSHA2_256_128, rep(0x0b, 32), []byte("Hi There"),
		"198a607eb44bfbc69903a0f1cf2bbdc5"},
	{"AUTH-1/384", ipsec.IntegHMACSHA2_384_192, rep(0x0b, 48), []byte("Hi There"),
		"b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"},
	{"AUTH-1/512", ipsec.IntegHMACSHA2_512_256, rep(0x0b, 64), []byte("Hi There"),
		"637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"},
	// AUTH-2: Key = "Jefe" repeated to the key length.
	{"AUTH-2/256", ipsec.IntegHMACSHA2_256_128, bytes.Repeat([]byte("Jefe"), 8),
		[]byte("what do ya want for nothing?"), "167f928588c5cc2eef8e3093caa0e87c"},
	{"AUTH-2/384", ipsec.IntegHMACSHA2_384_192, bytes.Repeat([]byte("Jefe"), 12),
		[]byte("what do ya want for nothing?"), "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d"},
	{"AUTH-2/512", ipsec.IntegHMACSHA2_512_256, bytes.Repeat([]byte("Jefe"), 16),
		[]byte("what do ya want for nothing?"),
		"cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"},
	// AUTH-3: Key = 0xaa * key length, Data = 0xdd * 50.
	{"AUTH-3/256", ipsec.IntegHMACSHA2_256_128, rep(0xaa, 32), rep(0xdd, 50),
		"cdcb1220d1ecccea91e53aba3092f962"},
	{"AUTH-3/384", ipsec.IntegHMACSHA2_384_192, rep(0xaa, 48), rep(0xdd, 50),
		"809f439be00274321d4a538652164b53554a508184a0c316"},
	{"AUTH-3/512", ipsec.IntegHMACSHA2_512_256, rep(0xaa, 64), rep(0xdd, 50),
		"2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8"},
}

func TestIntegKnownAnswers(t *testing.T) {
	for _, v := range integVectors {
		i := mustInteg(t, v.id)
		want := unhex(v.want)
		if got := i.Sum(v.key, v.data); !bytes.Equal(got, want) {
			t.Errorf("%s: ICV = %x, want %s", v.name, got, v.want)
		}
		if i.ICVSize() != len(want) || i.KeySize() != len(v.key) {
			t.Errorf("%s: ICVSize %d KeySize %d", v.name, i.ICVSize(), i.KeySize())
		}
		if !i.Verify(v.key, v.data, want) {
			t.Errorf("%s: Verify rejects the right ICV", v.name)
		}
		bad := bytes.Clone(want)
		bad[len(bad)-1] ^= 1
		if i.Verify(v.key, v.data, bad) || i.Verify(v.key, v.data, want[:len(want)-1]) {
			t.Errorf("%s: Verify accepts a wrong or short ICV", v.name)
		}
	}
}

func TestNewIntegRejects(t *testing.T) {
	for _, id := range []ipsec.TransformID{ipsec.IntegNone, 1, 5, 15} {
		if _, err := NewInteg(id); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewInteg(%d) error = %v", id, err)
		}
	}
}
