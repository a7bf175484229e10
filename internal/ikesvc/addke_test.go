package ikesvc

import (
	"slices"
	"testing"
	"time"

	"secgw/generated"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ipsec"
)

// TestIKESAStateKeyExchanges: the ike-sa state carries the additional
// key exchanges of the SA (RFC 9370) after its dh-group, in order.
func TestIKESAStateKeyExchanges(t *testing.T) {
	sa := engine.SAState{State: "established", Suite: ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256,
		PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519},
		AddKEs: []ipsec.TransformID{ipsec.GroupMLKEM768, ipsec.GroupMLKEM1024}}
	e := ikeSAState(sa, time.Now(), false, nil)
	want := []generated.E_SecgwIke_KeyExchange{generated.SecgwIke_KeyExchange_mlkem768, generated.SecgwIke_KeyExchange_mlkem1024}
	if e.DhGroup != generated.SecgwIke_DhGroup_curve25519 || !slices.Equal(e.AdditionalKeyExchange, want) {
		t.Errorf("dh-group %v, additional-key-exchange %v", e.DhGroup, e.AdditionalKeyExchange)
	}
	sa.AddKEs = nil
	if e := ikeSAState(sa, time.Now(), false, nil); e.AdditionalKeyExchange != nil {
		t.Errorf("classical SA: additional-key-exchange %v", e.AdditionalKeyExchange)
	}
}
