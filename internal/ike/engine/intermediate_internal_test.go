package engine

import (
	"bytes"
	"encoding/hex"
	"secgw/internal/ipsec"
	"strings"
	"testing"

	ikecrypto "secgw/internal/ike/crypto"
)

// TestSignedOctetsIntAuth: after IKE_INTERMEDIATE exchanges the signed
// octets of AUTH end with IntAuth = IntAuth_iN | IntAuth_rN |
// IKE_AUTH_MID (RFC 9242 §3.3.2), the Message ID of the IKE_AUTH request
// in four octets: the outstanding one on the initiator, the expected one
// on the responder; without them they are RFC 7296's.
func TestSignedOctetsIntAuth(t *testing.T) {
	suite := ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519}
	prf, _ := suite.NewPRF()
	skp, msg, nonce, id := []byte("sk_p"), []byte("message 1"), []byte("nonce"), []byte("id body")
	plain := ikecrypto.SignedOctets(prf, skp, msg, nonce, id)
	for _, initiator := range []bool{true, false} {
		sa := &ikeSA{initiator: initiator, suite: suite, handshake: &handshake{}}
		sa.curID, sa.expectID = 3, 5
		if got := sa.signedOctets(skp, msg, nonce, id); !bytes.Equal(got, plain) {
			t.Errorf("without IKE_INTERMEDIATE: %x, want %x", got, plain)
		}
		sa.intAuthI, sa.intAuthR = bytes.Repeat([]byte{0xa1}, 32), bytes.Repeat([]byte{0xb2}, 32)
		mid := "00000005"
		if initiator {
			mid = "00000003"
		}
		want := hex.EncodeToString(plain) + strings.Repeat("a1", 32) + strings.Repeat("b2", 32) + mid
		if got := hex.EncodeToString(sa.signedOctets(skp, msg, nonce, id)); got != want {
			t.Errorf("initiator %v:\n got %s\nwant %s", initiator, got, want)
		}
	}
}
