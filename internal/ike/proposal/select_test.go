package proposal

import (
	"secgw/internal/ipsec"
	"testing"

	"secgw/internal/ike/wire"
)

func ikeProp(num uint8, groups ...ipsec.TransformID) wire.Proposal {
	p := wire.Proposal{Number: num, Protocol: wire.ProtocolIKE, Transforms: []wire.Transform{
		{Type: ipsec.TransformEncr, ID: ipsec.EncrAESGCM16, Attributes: []wire.TransformAttribute{wire.KeyLengthAttribute(256)}},
		{Type: ipsec.TransformPRF, ID: ipsec.PRFHMACSHA2_256},
	}}
	for _, g := range groups {
		p.Transforms = append(p.Transforms, wire.Transform{Type: ipsec.TransformKE, ID: g})
	}
	return p
}

func TestSelectOurOrderAndPreferredGroup(t *testing.T) {
	ours := []wire.Proposal{ikeProp(1, ipsec.GroupECP256, ipsec.GroupCurve25519)}
	theirs := []wire.Proposal{ikeProp(1, ipsec.GroupMODP2048), ikeProp(2, ipsec.GroupCurve25519, ipsec.GroupECP256)}
	// Our preference (ECP-256) wins when the KE guess is not acceptable...
	p, ok := Select(ours, theirs, Options{PreferGroup: ipsec.GroupMODP2048})
	if g, _ := Transform(p, ipsec.TransformKE); !ok || p.Number != 2 || g.ID != ipsec.GroupECP256 {
		t.Fatalf("got %+v %v", p, ok)
	}
	// ...and the KE guess wins when acceptable (no INVALID_KE round trip).
	p, _ = Select(ours, theirs, Options{PreferGroup: ipsec.GroupCurve25519})
	if g, _ := Transform(p, ipsec.TransformKE); g.ID != ipsec.GroupCurve25519 {
		t.Fatalf("got group %v", g.ID)
	}
}

func TestSelectRejects(t *testing.T) {
	ours := []wire.Proposal{ikeProp(1, ipsec.GroupECP256)}
	wrongKey := ikeProp(1, ipsec.GroupECP256)
	wrongKey.Transforms[0].Attributes = []wire.TransformAttribute{wire.KeyLengthAttribute(128)}
	unknownType := ikeProp(1, ipsec.GroupECP256)
	unknownType.Transforms = append(unknownType.Transforms, wire.Transform{Type: 200, ID: 1})
	for name, theirs := range map[string]wire.Proposal{
		"group": ikeProp(1, ipsec.GroupMODP2048), "key length": wrongKey, "unknown type": unknownType,
	} {
		if _, ok := Select(ours, []wire.Proposal{theirs}, Options{}); ok {
			t.Errorf("%s: matched", name)
		}
	}
}

func TestSelectESPIgnoresKEAndIntegNone(t *testing.T) {
	ours := []wire.Proposal{{Number: 1, Protocol: wire.ProtocolESP, Transforms: []wire.Transform{
		{Type: ipsec.TransformEncr, ID: ipsec.EncrChaCha20Poly1305}, {Type: ipsec.TransformESN, ID: ipsec.ESNDisabled}}}}
	theirs := []wire.Proposal{{Number: 3, Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 4}, Transforms: []wire.Transform{
		{Type: ipsec.TransformEncr, ID: ipsec.EncrChaCha20Poly1305}, {Type: ipsec.TransformInteg, ID: ipsec.IntegNone},
		{Type: ipsec.TransformKE, ID: ipsec.GroupECP256}, {Type: ipsec.TransformESN, ID: ipsec.ESNEnabled}, {Type: ipsec.TransformESN, ID: ipsec.ESNDisabled}}}}
	p, ok := Select(ours, theirs, Options{IgnoreKE: true})
	if !ok || p.Number != 3 {
		t.Fatalf("got %+v %v", p, ok)
	}
	if _, ok := Single(theirs, []wire.Proposal{p}); !ok {
		t.Error("initiator rejects the selected proposal")
	}
}
