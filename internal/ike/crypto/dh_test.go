package crypto

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"secgw/internal/ipsec"
	"testing"
)

// ecdhFromPrivate builds a DH with a fixed private key.
func ecdhFromPrivate(t *testing.T, group ipsec.TransformID, priv []byte) *ecdhKey {
	t.Helper()
	k, err := curveFor(group).NewPrivateKey(priv)
	if err != nil {
		t.Fatalf("%s private key: %v", groupName(group), err)
	}
	return newECDH(group, k)
}

// ecpVectors are RFC 5903 §8.1, §8.2 and §8.3. The KE payload data is
// gx | gy (RFC 5903 §7, shown in §8 as the KE payloads) and the shared
// secret is girx only.
var ecpVectors = []struct {
	section     string
	group       ipsec.TransformID
	i, gix, giy string
	r, grx, gry string
	girx        string
}{
	{"8.1", ipsec.GroupECP256,
		"C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
		"DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180",
		"5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
		"C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
		"D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63",
		"56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
		"D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"},
	{"8.2", ipsec.GroupECP384,
		"099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
		"667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA",
		"9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C",
		"41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC",
		"E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571",
		"DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
		"11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746"},
	{"8.3", ipsec.GroupECP521,
		"0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A095AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D4A52",
		"0015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBEE1E3BF42E00B8E380AEAE57C2D107564941885942AF5A7F4601723C4195D176CED3E",
		"017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C739D7CB4A10AD8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3926F9582",
		"0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB151685EB9",
		"00D0B3975AC4B799F5BEA16D5E13E9AF971D5E9B984C9F39728B5E5739735A219B97C356436ADC6E95BB0352F6BE64A6C2912D4EF2D0433CED2B6171640012D9460F",
		"015C68226383956E3BD066E797B623C27CE0EAC2F551A10C2C724D9852077B87220B6536C5C408A1D2AEBB8E86D678AE49CB57091F4732296579AB44FCD17F0FC56A",
		"01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3DDEA"},
}

func TestECPKnownAnswers(t *testing.T) {
	for _, v := range ecpVectors {
		i := ecdhFromPrivate(t, v.group, unhex(v.i))
		r := ecdhFromPrivate(t, v.group, unhex(v.r))
		gi, gr := unhex(v.gix+v.giy), unhex(v.grx+v.gry)
		if !bytes.Equal(i.PublicKey(), gi) || !bytes.Equal(r.PublicKey(), gr) {
			t.Errorf("RFC 5903 §%s: KE data\n got %x / %x\nwant %x / %x", v.section, i.PublicKey(), r.PublicKey(), gi, gr)
		}
		if len(gi) != KeyExchangeDataLen(v.group) {
			t.Errorf("RFC 5903 §%s: KeyExchangeDataLen %d, want %d", v.section, KeyExchangeDataLen(v.group), len(gi))
		}
		for _, side := range []struct {
			k    *ecdhKey
			peer []byte
		}{{i, gr}, {r, gi}} {
			got, err := side.k.SharedSecret(side.peer)
			if err != nil || !bytes.Equal(got, unhex(v.girx)) {
				t.Errorf("RFC 5903 §%s: g^ir = %x, %v; want %s", v.section, got, err, v.girx)
			}
		}
	}
}

func TestECPRejectsInvalidPoints(t *testing.T) {
	for _, v := range ecpVectors {
		k := ecdhFromPrivate(t, v.group, unhex(v.i))
		gr := unhex(v.grx + v.gry)
		n := len(gr) / 2
		offCurve := bytes.Clone(gr)
		offCurve[len(offCurve)-1] ^= 1 // y changed: not on the curve
		xIsP := bytes.Clone(gr)        // x = p, not reduced
		p := ecdhFieldPrime(v.group)
		copy(xIsP[:n], p)
		sec1 := append([]byte{4}, gr...) // with the point-format octet
		bad := map[string][]byte{
			"off curve":       offCurve,
			"x not reduced":   xIsP,
			"all zero":        make([]byte, len(gr)), // the point at infinity in SEC 1 terms
			"SEC 1 encoding":  sec1,
			"x only":          gr[:n],
			"one octet short": gr[:len(gr)-1],
			"empty":           nil,
		}
		for name, peer := range bad {
			if _, err := k.SharedSecret(peer); !errors.Is(err, ErrInvalidPublicKey) {
				t.Errorf("%s %s: err = %v", groupName(v.group), name, err)
			}
		}
	}
}

// ecdhFieldPrime returns the field prime of a NIST curve, padded to the
// coordinate length.
func ecdhFieldPrime(g ipsec.TransformID) []byte {
	switch g {
	case ipsec.GroupECP256:
		return unhex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
	case ipsec.GroupECP384:
		return unhex("ffffffffffffffffffffffffffffffffffffffffffffffffffffffff" +
			"fffffffeffffffff0000000000000000ffffffff")
	}
	return append([]byte{0x01}, rep(0xff, 65)...) // P-521: 2^521 - 1
}

// x25519Vectors are RFC 7748 §5.2 (scalar, input u, output u).
var x25519Vectors = []struct{ scalar, u, out string }{
	{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		"e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		"c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
	// The high bit of the last octet of u is set and must be ignored.
	{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		"e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		"95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
}

func TestX25519KnownAnswers(t *testing.T) {
	for n, v := range x25519Vectors {
		k := ecdhFromPrivate(t, ipsec.GroupCurve25519, unhex(v.scalar))
		got, err := k.SharedSecret(unhex(v.u))
		if err != nil || !bytes.Equal(got, unhex(v.out)) {
			t.Errorf("RFC 7748 §5.2 vector %d: %x, %v", n+1, got, err)
		}
	}
	// RFC 7748 §6.1 (Alice and Bob) and RFC 8031 Appendix A.
	for _, v := range []struct{ name, a, aPub, b, bPub, shared string }{
		{"RFC 7748 §6.1",
			"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
			"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
			"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
			"de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
			"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
		{"RFC 8031 Appendix A",
			"751fb4308655b476b6789b7325f9ea8cddd16a58533ff6d9e60009464a5f9d94",
			"48d5ddd4061257ba166fa3f9bbdb74f1a4e81c089384fa77f790709f0dfbc766",
			"0a54645253290d60ddadd0e030bacd9e5501efdc220755a1e978f1b839a05688",
			"0be7c1f5aad87d7e448662673298a443478b859745179eaf564c79c0ef6eee25",
			"c74950607a12327f3204d94b6825bfb068b7f8319a9e3708ed3d43ce8130c950"},
	} {
		a := ecdhFromPrivate(t, ipsec.GroupCurve25519, unhex(v.a))
		b := ecdhFromPrivate(t, ipsec.GroupCurve25519, unhex(v.b))
		if !bytes.Equal(a.PublicKey(), unhex(v.aPub)) || !bytes.Equal(b.PublicKey(), unhex(v.bPub)) {
			t.Errorf("%s: public keys %x %x", v.name, a.PublicKey(), b.PublicKey())
		}
		s1, err1 := a.SharedSecret(b.PublicKey())
		s2, err2 := b.SharedSecret(a.PublicKey())
		if err1 != nil || err2 != nil || !bytes.Equal(s1, unhex(v.shared)) || !bytes.Equal(s2, s1) {
			t.Errorf("%s: shared %x %x (%v, %v)", v.name, s1, s2, err1, err2)
		}
	}
}

func TestX25519RejectsLowOrder(t *testing.T) {
	k, err := NewDH(ipsec.GroupCurve25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Points of small order give an all-zero shared secret, which RFC 8031
	// §2.2 requires the recipient to reject.
	lowOrder := []string{
		"0000000000000000000000000000000000000000000000000000000000000000", // 0
		"0100000000000000000000000000000000000000000000000000000000000000", // 1
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
	}
	for _, u := range lowOrder {
		if s, err := k.SharedSecret(unhex(u)); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("u=%s: shared %x, err %v", u, s, err)
		}
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := k.SharedSecret(make([]byte, n)); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%d octets: err %v", n, err)
		}
	}
	if !isAllZero(make([]byte, 32)) || isAllZero(append(make([]byte, 31), 1)) {
		t.Error("isAllZero is wrong")
	}
}

func TestNewDHAgreement(t *testing.T) {
	for _, g := range []ipsec.TransformID{ipsec.GroupECP256, ipsec.GroupECP384, ipsec.GroupECP521, ipsec.GroupCurve25519} {
		a, err := NewDH(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewDH(g, nil)
		if a.Group() != g || len(a.PublicKey()) != KeyExchangeDataLen(g) {
			t.Errorf("%s: group %d, KE data %d octets", groupName(g), a.Group(), len(a.PublicKey()))
		}
		s1, err1 := a.SharedSecret(b.PublicKey())
		s2, err2 := b.SharedSecret(a.PublicKey())
		want := len(a.PublicKey()) / 2 // ECP: x only
		if g == ipsec.GroupCurve25519 {
			want = 32
		}
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) || len(s1) != want {
			t.Errorf("%s: %x vs %x (%v, %v)", groupName(g), s1, s2, err1, err2)
		}
	}
}

func TestNewDHUnsupported(t *testing.T) {
	for _, g := range []ipsec.TransformID{ipsec.GroupNone, 1, ipsec.GroupMODP6144, ipsec.GroupMODP8192, ipsec.GroupCurve448, 24} {
		if _, err := NewDH(g, nil); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewDH(%d): %v", g, err)
		}
		if SupportedGroup(g) || KeyExchangeDataLen(g) != 0 {
			t.Errorf("group %d reported as supported", g)
		}
	}
}

// Make sure curveFor agrees with the curves' own key sizes.
func TestCurveSizes(t *testing.T) {
	for g, c := range map[ipsec.TransformID]ecdh.Curve{
		ipsec.GroupECP256: ecdh.P256(), ipsec.GroupECP384: ecdh.P384(), ipsec.GroupECP521: ecdh.P521(),
	} {
		k, _ := c.GenerateKey(nil)
		if got := len(k.PublicKey().Bytes()) - 1; got != KeyExchangeDataLen(g) {
			t.Errorf("%s: %d", groupName(g), got)
		}
	}
}
