package crypto

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"secgw/internal/ipsec"
	"testing"

	"secgw/internal/ike/wire"
)

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// split cuts b into pieces of the given lengths, which must add up.
func split(t *testing.T, b []byte, lens ...int) [][]byte {
	t.Helper()
	var out [][]byte
	for _, n := range lens {
		out = append(out, b[:n])
		b = b[n:]
	}
	if len(b) != 0 {
		t.Fatalf("%d octets left over", len(b))
	}
	return out
}

func refHMAC(p PRF, key []byte, data ...[]byte) []byte {
	m := hmac.New(p.hash, key)
	m.Write(cat(data...))
	return m.Sum(nil)
}

var (
	testNi  = seq(0x11, 32)
	testNr  = seq(0x77, 24) // nonces may differ in length (RFC 7296 §2.10)
	testGir = seq(0xa0, 256)
)

const testSPIi, testSPIr = 0x0102030405060708, 0x1112131415161718

func TestSKEYSEED(t *testing.T) {
	p := mustPRF(t, ipsec.PRFHMACSHA2_256)
	// RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir).
	if got, want := SKEYSEED(p, testNi, testNr, testGir), refHMAC(p, cat(testNi, testNr), testGir); !bytes.Equal(got, want) {
		t.Errorf("SKEYSEED = %x, want %x", got, want)
	}
	// RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr).
	old := mustPRF(t, ipsec.PRFHMACSHA1)
	skd := seq(0x33, 20)
	if got, want := RekeySKEYSEED(old, skd, testGir, testNi, testNr), refHMAC(old, skd, testGir, testNi, testNr); !bytes.Equal(got, want) {
		t.Errorf("rekey SKEYSEED = %x, want %x", got, want)
	}
}

func TestDeriveIKEKeys(t *testing.T) {
	for _, s := range []Suite{
		{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA1_96, PRF: ipsec.PRFHMACSHA1, Group: ipsec.GroupMODP2048},
		{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_512_256, PRF: ipsec.PRFHMACSHA2_384, Group: ipsec.GroupECP384},
		{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_512, Group: ipsec.GroupECP521},
		{Encr: ipsec.EncrChaCha20Poly1305, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519},
	} {
		kl, _ := s.IKEKeyLengths()
		p := mustPRF(t, s.PRF)
		keys, err := NewIKEKeys(s, testGir, testNi, testNr, testSPIi, testSPIr)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		// RFC 7296 §2.14, computed independently.
		skeyseed := refHMAC(p, cat(testNi, testNr), testGir)
		spis := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, testSPIi), testSPIr)
		km := prfPlusReference(p, skeyseed, cat(testNi, testNr, spis), 3*kl.PRF+2*kl.Integ+2*kl.Encr)
		want := split(t, km, kl.PRF, kl.Integ, kl.Integ, kl.Encr, kl.Encr, kl.PRF, kl.PRF)
		got := [][]byte{keys.SKd, keys.SKai, keys.SKar, keys.SKei, keys.SKer, keys.SKpi, keys.SKpr}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%s: key %d = %x, want %x", s, i, got[i], want[i])
			}
		}
		if s.AEAD() && (len(keys.SKai) != 0 || len(keys.SKar) != 0) {
			t.Errorf("%s: AEAD with SK_a", s)
		}
		keys.Clear()
		if !isAllZero(keys.SKd) || !isAllZero(keys.SKer) {
			t.Errorf("%s: Clear left keys", s)
		}
	}
}

// TestIKEKeysBothSides runs the key exchange and derivation on both sides
// and checks that the initiator's outbound cipher is the responder's
// inbound one and vice versa.
func TestIKEKeysBothSides(t *testing.T) {
	for _, s := range skSuites() {
		di, _ := NewDH(s.Group, nil)
		dr, _ := NewDH(s.Group, nil)
		gi, err := di.SharedSecret(dr.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		gr, _ := dr.SharedSecret(di.PublicKey())
		ki, err := NewIKEKeys(s, gi, testNi, testNr, testSPIi, testSPIr)
		if err != nil {
			t.Fatal(err)
		}
		kr, _ := NewIKEKeys(s, gr, testNi, testNr, testSPIi, testSPIr)
		outI, inI, err := ki.Ciphers(s, true)
		if err != nil {
			t.Fatal(err)
		}
		outR, inR, _ := kr.Ciphers(s, false)
		for _, pair := range []struct {
			name     string
			out, in  SKCipher
			wrongDir SKCipher
		}{{"i->r", outI, inR, inI}, {"r->i", outR, inI, inR}} {
			aad := skAAD(pair.out.SealedLen(5))
			msg, _ := pair.out.Seal(aad, aad, []byte("hello"))
			if got, err := pair.in.Open(nil, aad, msg[len(aad):]); err != nil || string(got) != "hello" {
				t.Errorf("%s %s: %q, %v", s, pair.name, got, err)
			}
			if _, err := pair.wrongDir.Open(nil, aad, msg[len(aad):]); err == nil {
				t.Errorf("%s %s: opened with the other direction's keys", s, pair.name)
			}
		}
	}
}

func TestRekeyIKEKeys(t *testing.T) {
	oldPRF := mustPRF(t, ipsec.PRFHMACSHA1)
	oldSKd := seq(0x5d, 20)
	s := Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_512, Group: ipsec.GroupCurve25519}
	keys, err := RekeyIKEKeys(oldPRF, oldSKd, s, testGir[:32], testNi, testNr, 0xaa, 0xbb)
	if err != nil {
		t.Fatal(err)
	}
	// SKEYSEED with the old PRF (RFC 7296 §2.18), prf+ with the new one.
	seed := refHMAC(oldPRF, oldSKd, testGir[:32], testNi, testNr)
	want, _ := DeriveIKEKeys(s, seed, testNi, testNr, 0xaa, 0xbb)
	if !bytes.Equal(keys.SKd, want.SKd) || !bytes.Equal(keys.SKer, want.SKer) || len(keys.SKd) != 64 {
		t.Errorf("rekeyed SK_d %x, want %x", keys.SKd, want.SKd)
	}
}

func TestDeriveChildKeys(t *testing.T) {
	p := mustPRF(t, ipsec.PRFHMACSHA2_256)
	skd := seq(0xd0, 32)
	for _, esp := range []Suite{
		{Encr: ipsec.EncrAESGCM16, KeyBits: 256},
		{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128},
		{Encr: ipsec.EncrChaCha20Poly1305, Group: ipsec.GroupCurve25519},
		{Encr: ipsec.EncrNull, Integ: ipsec.IntegHMACSHA1_96},
	} {
		kl, _ := esp.ESPKeyLengths()
		for _, gir := range [][]byte{nil, testGir[:32]} {
			k, err := DeriveChildKeys(p, skd, esp, gir, testNi, testNr)
			if err != nil {
				t.Fatalf("%s: %v", esp, err)
			}
			// RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr);
			// initiator-to-responder first, encryption before integrity.
			km := prfPlusReference(p, skd, cat(gir, testNi, testNr), 2*(kl.Encr+kl.Integ))
			want := split(t, km, kl.Encr, kl.Integ, kl.Encr, kl.Integ)
			got := [][]byte{k.EncrI, k.IntegI, k.EncrR, k.IntegR}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("%s gir=%d: key %d = %x, want %x", esp, len(gir), i, got[i], want[i])
				}
			}
			k.Clear()
		}
	}
	if _, err := DeriveChildKeys(p, skd, Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128}, nil, testNi, testNr); err == nil {
		t.Error("ESP AES-CBC without integrity accepted")
	}
}

func TestApplyPPK(t *testing.T) {
	s := Suite{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_384, Group: ipsec.GroupECP256}
	p := mustPRF(t, s.PRF)
	keys, _ := NewIKEKeys(s, testGir, testNi, testNr, testSPIi, testSPIr)
	orig, _ := NewIKEKeys(s, testGir, testNi, testNr, testSPIi, testSPIr)
	ppk := []byte("a post-quantum preshared key of some length")
	if err := keys.ApplyPPK(p, ppk); err != nil {
		t.Fatal(err)
	}
	// RFC 8784 §3: SK_d' = prf+(PPK, SK_d), SK_pi' = prf+(PPK, SK_pi),
	// SK_pr' = prf+(PPK, SK_pr), each as long as the key it replaces.
	for _, c := range []struct{ got, old []byte }{{keys.SKd, orig.SKd}, {keys.SKpi, orig.SKpi}, {keys.SKpr, orig.SKpr}} {
		if want := prfPlusReference(p, ppk, c.old, len(c.old)); !bytes.Equal(c.got, want) {
			t.Errorf("PPK key %x, want %x", c.got, want)
		}
	}
	for _, c := range []struct{ got, old []byte }{{keys.SKai, orig.SKai}, {keys.SKar, orig.SKar}, {keys.SKei, orig.SKei}, {keys.SKer, orig.SKer}} {
		if !bytes.Equal(c.got, c.old) {
			t.Error("PPK changed SK_a or SK_e")
		}
	}
}

func TestAuthPSK(t *testing.T) {
	for _, id := range []ipsec.TransformID{ipsec.PRFHMACSHA1, ipsec.PRFHMACSHA2_256, ipsec.PRFHMACSHA2_512} {
		p := mustPRF(t, id)
		psk := []byte("correct horse battery staple")
		skpi := seq(0x50, p.KeySize())
		realMessage := seq(0, 300) // stands for IKE_SA_INIT request as sent
		nonceR := seq(0x90, 32)
		ident := &wire.Identification{IDType: wire.IDFQDN, Data: []byte("gw.example.net")}
		idBody, err := ident.AppendBody(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(idBody, append([]byte{2, 0, 0, 0}, "gw.example.net"...)) {
			t.Fatalf("ID body %x", idBody)
		}
		// RFC 7296 §2.15: RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload).
		so := SignedOctets(p, skpi, realMessage, nonceR, idBody)
		if want := cat(realMessage, nonceR, refHMAC(p, skpi, idBody)); !bytes.Equal(so, want) {
			t.Errorf("%s: signed octets differ", p)
		}
		// AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>).
		auth := AuthPSK(p, psk, so)
		if want := refHMAC(p, refHMAC(p, psk, []byte("Key Pad for IKEv2")), so); !bytes.Equal(auth, want) {
			t.Errorf("%s: AUTH = %x, want %x", p, auth, want)
		}
		if len(auth) != p.Size() || !VerifyAuthPSK(p, psk, so, auth) {
			t.Errorf("%s: VerifyAuthPSK rejects its own AUTH", p)
		}
		for _, bad := range []struct{ psk, so, auth []byte }{
			{[]byte("wrong"), so, auth},
			{psk, so[1:], auth},
			{psk, so, auth[:len(auth)-1]},
			{psk, so, append(bytes.Clone(auth[1:]), auth[0])},
		} {
			if VerifyAuthPSK(p, bad.psk, bad.so, bad.auth) {
				t.Errorf("%s: VerifyAuthPSK accepts a wrong input", p)
			}
		}
	}
}
