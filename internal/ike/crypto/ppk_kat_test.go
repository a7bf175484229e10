package crypto

import (
	"bytes"
	"encoding/hex"
	"secgw/internal/ipsec"
	"testing"
)

// TestApplyPPKKnownAnswer checks SK_d' = prf+(PPK, SK_d), SK_pi' =
// prf+(PPK, SK_pi), SK_pr' = prf+(PPK, SK_pr) (RFC 8784 §3) against fixed
// values computed independently of this package, with Python 3's hmac and
// hashlib (prf+ of RFC 7296 §2.13: T1 = HMAC(PPK, K | 0x01), T2 =
// HMAC(PPK, T1 | K | 0x02), ...):
//
//	ppk = bytes(range(32))
//	def prfplus(h, key, seed, n):
//	    out, t, i = b"", b"", 1
//	    while len(out) < n:
//	        t = hmac.new(key, t + seed + bytes([i]), h).digest(); out += t; i += 1
//	    return out[:n]
//
// with SK_d, SK_pi, SK_pr the byte sequences from 0x40, 0x80 and 0xc0
// (wrapping), as long as the PRF's output, and one 40-octet key with
// HMAC-SHA-256 for a prf+ of two blocks.
func TestApplyPPKKnownAnswer(t *testing.T) {
	ppk := seq(0, 32)
	for _, c := range []struct {
		prf           ipsec.TransformID
		n             int
		skd, spi, spr string
	}{
		{ipsec.PRFHMACSHA2_256, 32,
			"bbbb40f2c542c2c58846dc609224829eae0a8b9a5d31f500caff2964dc6bf9de",
			"8d2f952e07a9c1cd3cea5b9b961cf91ff95cfedffe48886f85604d7874fbf953",
			"cfc6b5ece5f7502dd7bb4343e0b41f73d4c413a3c8c304c89443c003ce248410"},
		{ipsec.PRFHMACSHA2_512, 64,
			"f91b7d51ef2bf03ad1404a159a53e5f83e501c7469aee27ff5f9e675905b0b782e8229b2c9cb384da83b33eba77d956fae08e8d1662385faba09ec04d426844d",
			"5a7ce100db7e7cb29a79bead06676c0b62bd63e5531651632882f8ab410a609a321dfb09f216b88abd94869c0814d8c26e7045c95368036ccc80ecc13c892883",
			"de61745b71151f7d64d0f9167d0375ad4496dffdc78b681c613278d23062921bb49a6d8bcf4cea873a85d1c73cca0fbeb1144c92f3f3808f80dcd6d75472cd19"},
	} {
		k := &IKEKeys{SKd: seq(0x40, c.n), SKai: seq(1, 16), SKpi: seq(0x80, c.n), SKpr: seq(0xc0, c.n)}
		if err := k.ApplyPPK(mustPRF(t, c.prf), ppk); err != nil {
			t.Fatal(err)
		}
		for _, x := range []struct {
			name string
			got  []byte
			want string
		}{{"SK_d'", k.SKd, c.skd}, {"SK_pi'", k.SKpi, c.spi}, {"SK_pr'", k.SKpr, c.spr}} {
			if hex.EncodeToString(x.got) != x.want {
				t.Errorf("prf %d: %s = %x, want %s", c.prf, x.name, x.got, x.want)
			}
		}
		if !bytes.Equal(k.SKai, seq(1, 16)) {
			t.Error("ApplyPPK changed SK_ai")
		}
	}
	k := &IKEKeys{SKd: seq(0, 40), SKpi: seq(0, 32), SKpr: seq(0, 32)}
	if err := k.ApplyPPK(mustPRF(t, ipsec.PRFHMACSHA2_256), ppk); err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(k.SKd), "08b14f4020efc9a12fae411f5bbc54af49dd9da823a38719e86a6f7e9296801f14e767e90a117181"; got != want {
		t.Errorf("two-block SK_d' = %s, want %s", got, want)
	}
}
