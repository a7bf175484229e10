package proposal

import (
	"testing"

	"secgw/internal/ike/wire"
)

func ikeProp(num uint8, groups ...wire.TransformID) wire.Proposal {
	p := wire.Proposal{Number: num, Protocol: wire.ProtocolIKE, Transforms: []wire.Transform{
		{Type: wire.TransformEncr, ID: wire.EncrAESGCM16, Attributes: []wire.TransformAttribute{wire.KeyLengthAttribute(256)}},
		{Type: wire.TransformPRF, ID: wire.PRFHMACSHA2_256},
	}}
	for _, g := range groups {
		p.Transforms = append(p.Transforms, wire.Transform{Type: wire.TransformKE, ID: g})
	}
	return p
}

func TestSelectOurOrderAndPreferredGroup(t *testing.T) {
	ours := []wire.Proposal{ikeProp(1, wire.GroupECP256, wire.GroupCurve25519)}
	theirs := []wire.Proposal{ikeProp(1, wire.GroupMODP2048), ikeProp(2, wire.GroupCurve25519, wire.GroupECP256)}
	// Our preference (ECP-256) wins when the KE guess is not acceptable...
	p, ok := Select(ours, theirs, Options{PreferGroup: wire.GroupMODP2048})
	if g, _ := Transform(p, wire.TransformKE); !ok || p.Number != 2 || g.ID != wire.GroupECP256 {
		t.Fatalf("got %+v %v", p, ok)
	}
	// ...and the KE guess wins when acceptable (no INVALID_KE round trip).
	p, _ = Select(ours, theirs, Options{PreferGroup: wire.GroupCurve25519})
	if g, _ := Transform(p, wire.TransformKE); g.ID != wire.GroupCurve25519 {
		t.Fatalf("got group %v", g.ID)
	}
}

func TestSelectRejects(t *testing.T) {
	ours := []wire.Proposal{ikeProp(1, wire.GroupECP256)}
	wrongKey := ikeProp(1, wire.GroupECP256)
	wrongKey.Transforms[0].Attributes = []wire.TransformAttribute{wire.KeyLengthAttribute(128)}
	unknownType := ikeProp(1, wire.GroupECP256)
	unknownType.Transforms = append(unknownType.Transforms, wire.Transform{Type: 200, ID: 1})
	for name, theirs := range map[string]wire.Proposal{
		"group": ikeProp(1, wire.GroupMODP2048), "key length": wrongKey, "unknown type": unknownType,
	} {
		if _, ok := Select(ours, []wire.Proposal{theirs}, Options{}); ok {
			t.Errorf("%s: matched", name)
		}
	}
}

func TestSelectESPIgnoresKEAndIntegNone(t *testing.T) {
	ours := []wire.Proposal{{Number: 1, Protocol: wire.ProtocolESP, Transforms: []wire.Transform{
		{Type: wire.TransformEncr, ID: wire.EncrChaCha20Poly1305}, {Type: wire.TransformESN, ID: wire.ESNDisabled}}}}
	theirs := []wire.Proposal{{Number: 3, Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 4}, Transforms: []wire.Transform{
		{Type: wire.TransformEncr, ID: wire.EncrChaCha20Poly1305}, {Type: wire.TransformInteg, ID: wire.IntegNone},
		{Type: wire.TransformKE, ID: wire.GroupECP256}, {Type: wire.TransformESN, ID: wire.ESNEnabled}, {Type: wire.TransformESN, ID: wire.ESNDisabled}}}}
	p, ok := Select(ours, theirs, Options{IgnoreKE: true})
	if !ok || p.Number != 3 {
		t.Fatalf("got %+v %v", p, ok)
	}
	if _, ok := Single(theirs, []wire.Proposal{p}); !ok {
		t.Error("initiator rejects the selected proposal")
	}
}
