package engine

import (
	"secgw/internal/ipsec"
	"slices"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// ESPSupport is implemented by a dataplane that cannot carry every ESP
// suite ikecrypto.NewESPSuite accepts (the userspace ESP engine); one
// without it (the kernel's XFRM) carries them all. The daemon hands the
// method to the engine as Options.SupportsESP, since the layers between
// the engine and the dataplane (the programmer, the routes) do not pass
// optional methods through.
type ESPSupport interface {
	// SupportsESP reports whether a child SA of the suite (Encr,
	// KeyBits, Integ; the Group does not matter) can be installed. It
	// must be safe for concurrent use and cheap: it runs for every
	// transform of every ESP proposal of a negotiation.
	SupportsESP(s ikecrypto.Suite) bool
}

// espOffer returns the ESP proposals of ps that the dataplane can carry
// (Options.SupportsESP), renumbered from 1 (RFC 7296 §3.3.1: the first
// proposal is number 1, the next ones increment by one). Without
// Options.SupportsESP it returns ps itself.
func (e *Engine) espOffer(ps []wire.Proposal) []wire.Proposal {
	if e.o.SupportsESP == nil {
		return ps
	}
	return filterESP(ps, e.o.SupportsESP)
}

// filterESP keeps of each proposal the transforms whose every combination
// the dataplane supports, so that whatever a peer picks from it (one
// transform per type, RFC 7296 §3.3.6) can be installed:
//
//   - an ENCR transform goes when no INTEG transform of the proposal (or
//     none at all, for an AEAD, RFC 7296 §3.3) makes a supported suite
//     with it, an INTEG transform when no remaining cipher takes it;
//   - when the remaining ciphers do not all take the same integrity
//     algorithms, the proposal is split into one proposal per cipher,
//     each with the integrity algorithms that cipher takes, in the
//     configured order of preference;
//   - a proposal left without a cipher goes.
//
// Key exchange and ESN transforms are kept as they are.
func filterESP(ps []wire.Proposal, ok func(ikecrypto.Suite) bool) []wire.Proposal {
	var out []wire.Proposal
	for _, p := range ps {
		out = append(out, filterProposal(p, ok)...)
	}
	for i := range out {
		out[i].Number = uint8(i + 1)
	}
	return out
}

func filterProposal(p wire.Proposal, ok func(ikecrypto.Suite) bool) []wire.Proposal {
	var encrs []wire.Transform
	var integs []ipsec.TransformID
	for _, t := range p.Transforms {
		switch {
		case t.Type == ipsec.TransformEncr:
			encrs = append(encrs, t)
		case t.Type == ipsec.TransformInteg && t.ID != ipsec.IntegNone:
			integs = append(integs, t.ID)
		}
	}
	// takes[i] are the integrity algorithms of encrs[i] (nil for an
	// AEAD, which takes none); kept[i] whether encrs[i] stays.
	takes := make([][]ipsec.TransformID, len(encrs))
	kept := make([]bool, len(encrs))
	var union []ipsec.TransformID
	split := false
	var first []ipsec.TransformID
	haveFirst := false
	for i, enc := range encrs {
		bits, _ := enc.KeyLength()
		s := ikecrypto.Suite{Encr: enc.ID, KeyBits: int(bits)}
		if s.AEAD() {
			kept[i] = ok(s)
			continue
		}
		cands := integs
		if len(cands) == 0 {
			cands = []ipsec.TransformID{ipsec.IntegNone}
		}
		for _, in := range cands {
			s.Integ = in
			if ok(s) {
				takes[i] = append(takes[i], in)
			}
		}
		if len(takes[i]) == 0 {
			continue
		}
		kept[i] = true
		if !haveFirst {
			first, haveFirst = takes[i], true
		} else if !slices.Equal(first, takes[i]) {
			split = true
		}
		for _, in := range takes[i] {
			if !slices.Contains(union, in) {
				union = append(union, in)
			}
		}
	}
	if !slices.Contains(kept, true) {
		return nil
	}
	// build returns p with the ciphers for which keep says so and,
	// unless integ is nil (only AEADs left: the INTEG transforms stay
	// as configured), the integrity algorithms in integ.
	build := func(keep func(i int) bool, integ []ipsec.TransformID) wire.Proposal {
		q := wire.Proposal{Number: p.Number, Protocol: p.Protocol}
		n := 0
		for _, t := range p.Transforms {
			switch {
			case t.Type == ipsec.TransformEncr:
				if keep(n) {
					q.Transforms = append(q.Transforms, t)
				}
				n++
			case t.Type == ipsec.TransformInteg && integ != nil:
				if t.ID == ipsec.IntegNone || slices.Contains(integ, t.ID) {
					q.Transforms = append(q.Transforms, t)
				}
			default:
				q.Transforms = append(q.Transforms, t)
			}
		}
		return q
	}
	if !split {
		return []wire.Proposal{build(func(i int) bool { return kept[i] }, union)}
	}
	var out []wire.Proposal
	for i := range encrs {
		if kept[i] {
			out = append(out, build(func(j int) bool { return j == i }, takes[i]))
		}
	}
	return out
}

// unsupportedChoice explains a NO_PROPOSAL_CHOSEN of the responder: the
// suite it would have chosen from all of ours if the dataplane could carry
// it, or "" when no proposal of ours matches the peer's anyway.
func unsupportedChoice(ours, theirs []wire.Proposal, o proposal.Options) string {
	chosen, ok := proposal.Select(ours, theirs, o)
	if !ok {
		return ""
	}
	enc, _ := proposal.Transform(chosen, ipsec.TransformEncr)
	integ, _ := proposal.Transform(chosen, ipsec.TransformInteg)
	bits, _ := enc.KeyLength()
	return ikecrypto.Suite{Encr: enc.ID, KeyBits: int(bits), Integ: integ.ID}.String()
}

// noESPOffer logs that the child SA of a policy is not negotiated because
// the dataplane can carry none of the VPN's ESP proposals, and returns the
// reason of its ChildFailed event (classed with NO_PROPOSAL_CHOSEN in the
// statistics: no proposal can be chosen).
func noESPOffer(sa *ikeSA, policy string) string {
	const why = "the dataplane can carry none of the ESP proposals"
	sa.childLog().Info("child SA not offered", "policy", policy,
		"notify", wire.NotifyNoProposalChosen.String(), "reason", why)
	return wire.NotifyNoProposalChosen.String() + ": " + why
}
