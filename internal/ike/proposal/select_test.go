package proposal

import (
	"secgw/internal/ipsec"
	"slices"
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

// withAddKE appends the values of one Additional Key Exchange type.
func withAddKE(p wire.Proposal, typ ipsec.TransformType, ids ...ipsec.TransformID) wire.Proposal {
	p.Transforms = append([]wire.Transform(nil), p.Transforms...)
	for _, id := range ids {
		p.Transforms = append(p.Transforms, wire.Transform{Type: typ, ID: id})
	}
	return p
}

// TestSelectAdditionalKE covers RFC 9370 §2.2.1: each ADDKE type is
// negotiated like a transform type, NONE among its values; an absent type
// offers NONE only.
func TestSelectAdditionalKE(t *testing.T) {
	base := ikeProp(1, ipsec.GroupCurve25519)
	optional := withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupMLKEM768, ipsec.GroupNone)
	required := withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupMLKEM768)
	two := withAddKE(withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupMLKEM768), ipsec.TransformAddKE3, ipsec.GroupMLKEM1024, ipsec.GroupNone)
	for _, c := range []struct {
		name        string
		ours, their wire.Proposal
		ok          bool
		want        []ipsec.TransformID // AdditionalKEs of the answer
		listed      bool                // ADDKE1 in the answer
	}{
		{"both ML-KEM", required, optional, true, []ipsec.TransformID{ipsec.GroupMLKEM768}, true},
		{"classical peer, policy offers NONE", optional, base, true, nil, false},
		{"classical peer, policy requires", required, base, false, nil, false},
		{"peer requires, policy without", base, required, false, nil, false},
		{"peer optional, policy without", base, optional, true, nil, true},
		{"our order wins", withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupNone, ipsec.GroupMLKEM768), optional, true, nil, true},
		{"two types", two, two, true, []ipsec.TransformID{ipsec.GroupMLKEM768, ipsec.GroupMLKEM1024}, true},
		{"other method", withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupMLKEM1024), required, false, nil, false},
	} {
		p, ok := Select([]wire.Proposal{c.ours}, []wire.Proposal{c.their}, Options{})
		if ok != c.ok {
			t.Errorf("%s: ok %v", c.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if got := AdditionalKEs(p); !slices.Equal(got, c.want) {
			t.Errorf("%s: additional KEs %v, want %v", c.name, got, c.want)
		}
		if _, listed := Transform(p, ipsec.TransformAddKE1); listed != c.listed {
			t.Errorf("%s: ADDKE1 in the answer %v", c.name, listed)
		}
		if _, ok := Single([]wire.Proposal{c.their}, []wire.Proposal{p}); !ok {
			t.Errorf("%s: the initiator rejects the answer %+v", c.name, p)
		}
	}
	// The child SA of IKE_AUTH ignores them (RFC 9370 §2.2.3).
	if _, ok := Select([]wire.Proposal{base}, []wire.Proposal{required}, Options{IgnoreKE: true}); !ok {
		t.Error("IgnoreKE: ADDKE not ignored")
	}
	// ...but not when checking the agreed IKE proposal against another
	// VPN's: MatchAddKE.
	if _, ok := Select([]wire.Proposal{required}, []wire.Proposal{base}, Options{IgnoreKE: true, MatchAddKE: true}); ok {
		t.Error("MatchAddKE: a required ADDKE was ignored")
	}
	if got := WithoutKE([]wire.Proposal{two})[0]; len(got.Transforms) != 2 {
		t.Errorf("WithoutKE kept %v", got.Transforms)
	}
	if !HasAdditionalKE([]wire.Proposal{base, optional}) || HasAdditionalKE([]wire.Proposal{withAddKE(base, ipsec.TransformAddKE2, ipsec.GroupNone)}) {
		t.Error("HasAdditionalKE")
	}
}

// TestSingleRequiredAdditionalKE: a responder that answers without an
// ADDKE type we required (or with NONE we did not offer) is refused.
func TestSingleRequiredAdditionalKE(t *testing.T) {
	base := ikeProp(1, ipsec.GroupCurve25519)
	required := withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupMLKEM768)
	for name, answer := range map[string]wire.Proposal{
		"left out": base,
		"NONE":     withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupNone),
		"other":    withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupMLKEM1024),
	} {
		if _, ok := Single([]wire.Proposal{required}, []wire.Proposal{answer}); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, ok := Single([]wire.Proposal{required}, []wire.Proposal{required}); !ok {
		t.Error("the required one refused")
	}
}

// TestWithClassicalFallback: a proposal whose additional key exchanges are
// all optional gets a copy without them, numbered last, which a responder
// without RFC 9370 accepts; a required one gets none.
func TestWithClassicalFallback(t *testing.T) {
	base := ikeProp(1, ipsec.GroupCurve25519)
	optional := withAddKE(base, ipsec.TransformAddKE1, ipsec.GroupMLKEM768, ipsec.GroupNone)
	required := withAddKE(ikeProp(2, ipsec.GroupCurve25519), ipsec.TransformAddKE1, ipsec.GroupMLKEM768)
	out := WithClassicalFallback([]wire.Proposal{optional, required})
	if len(out) != 3 || out[2].Number != 3 || HasAdditionalKE(out[2:]) || len(out[2].Transforms) != len(base.Transforms) {
		t.Fatalf("got %+v", out)
	}
	// A responder without RFC 9370 drops the proposals with types it
	// does not know (RFC 7296 §3.3.6) and chooses among the rest.
	legacy := slices.DeleteFunc(slices.Clone(out), func(p wire.Proposal) bool { return HasAdditionalKE([]wire.Proposal{p}) })
	p, ok := Select([]wire.Proposal{base}, legacy, Options{})
	if !ok || p.Number != 3 {
		t.Errorf("a classical responder chose %+v %v", p, ok)
	}
	if got := WithClassicalFallback([]wire.Proposal{required}); len(got) != 1 {
		t.Errorf("required: %+v", got)
	}
}
