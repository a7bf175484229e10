// Package proposal implements SA proposal selection (RFC 7296 §2.7, §3.3.6)
// for IKE and ESP proposals expressed as wire proposals.
//
// The responder picks the first of its own configured proposals, in
// configured order, that matches any of the initiator's proposals, and
// within a transform type the first of its own algorithms the initiator
// also offers. RFC 7296 §2.7 lets the responder choose any acceptable
// proposal; the configured order wins here because the operator's
// preference is the policy ("proposal selection with the
// configured preference order"), as in strongSwan's default
// (charon.prefer_configured_proposals = yes).
package proposal

import (
	"secgw/internal/ipsec"
	"slices"

	"secgw/internal/ike/wire"
)

// Options tunes Select.
type Options struct {
	// PreferGroup is the group of the initiator's KE payload: when it is
	// acceptable in a matching proposal it is chosen over our preferred
	// group, which saves an INVALID_KE_PAYLOAD round trip (RFC 7296 §1.2).
	PreferGroup ipsec.TransformID
	// IgnoreKE drops Key Exchange transforms, and the Additional Key
	// Exchange ones, from both sides, for the Child SA created by
	// IKE_AUTH, which has no KE payload (RFC 7296 §1.2: the KE transforms
	// of that SA offer are ignored; RFC 9370 §2.2.3).
	IgnoreKE bool
	// MatchAddKE keeps, with IgnoreKE, the Additional Key Exchange types:
	// the additional key exchanges agreed in IKE_SA_INIT, which a VPN
	// picked later by identity must accept too.
	MatchAddKE bool
}

// Select returns the proposal the responder accepts: the initiator's
// proposal number and protocol with exactly one transform of each type
// (RFC 7296 §3.3.6), its SPI left for the caller to fill in, and ok false
// when nothing matches (NO_PROPOSAL_CHOSEN).
func Select(ours, theirs []wire.Proposal, o Options) (wire.Proposal, bool) {
	for _, our := range ours {
		for _, their := range theirs {
			if p, ok := match(our, their, o); ok {
				return p, true
			}
		}
	}
	return wire.Proposal{}, false
}

// typeOrder is the order of the transforms in a proposal we send.
var typeOrder = []ipsec.TransformType{ipsec.TransformEncr, ipsec.TransformPRF, ipsec.TransformInteg, ipsec.TransformKE,
	ipsec.TransformAddKE1, ipsec.TransformAddKE2, ipsec.TransformAddKE3, ipsec.TransformAddKE4,
	ipsec.TransformAddKE5, ipsec.TransformAddKE6, ipsec.TransformAddKE7, ipsec.TransformESN}

// isAddKE reports whether typ is one of the Additional Key Exchange types
// ADDKE1..7 (RFC 9370 §2.2.1).
func isAddKE(typ ipsec.TransformType) bool {
	return typ >= ipsec.TransformAddKE1 && typ <= ipsec.TransformAddKE7
}

// noneTransform is the NONE value of an ADDKE type.
func noneTransform(typ ipsec.TransformType) []wire.Transform {
	return []wire.Transform{{Type: typ, ID: ipsec.GroupNone}}
}

// match matches one of our proposals with one of theirs. Every transform
// type present on either side must find a common algorithm, except that an
// INTEG or KE type holding only NONE is the same as an absent one (RFC 7296
// §3.3.2, §3.3.3: combined-mode ciphers with INTEG NONE, optional KE).
// A transform type we do not know makes the proposal unacceptable
// (RFC 7296 §3.3.6).
func match(our, their wire.Proposal, o Options) (wire.Proposal, bool) {
	if our.Protocol != their.Protocol {
		return wire.Proposal{}, false
	}
	for _, t := range their.Transforms {
		if !slices.Contains(typeOrder, t.Type) {
			return wire.Proposal{}, false
		}
		if t.Type == ipsec.TransformPRF && their.Protocol != wire.ProtocolIKE {
			return wire.Proposal{}, false
		}
	}
	out := wire.Proposal{Number: their.Number, Protocol: their.Protocol}
	for _, typ := range typeOrder {
		if o.IgnoreKE && (typ == ipsec.TransformKE || isAddKE(typ) && !o.MatchAddKE) {
			continue
		}
		ourT := ofType(our.Transforms, typ)
		theirT := ofType(their.Transforms, typ)
		if len(ourT) == 0 && len(theirT) == 0 {
			continue
		}
		if isAddKE(typ) {
			// RFC 9370 §2.2.1: an ADDKE type is negotiated like any
			// other, NONE being one of its values; a side that does
			// not list the type offers NONE only (a peer without RFC
			// 9370, or a policy without that exchange). A type the
			// initiator did not list stays out of the answer.
			if len(ourT) == 0 {
				ourT = noneTransform(typ)
			}
			if len(theirT) == 0 {
				if !containsTransform(ourT, noneTransform(typ)[0]) {
					return wire.Proposal{}, false
				}
				continue
			}
		}
		if onlyNone(typ, ourT) && onlyNone(typ, theirT) {
			if len(ourT) > 0 && len(theirT) > 0 {
				out.Transforms = append(out.Transforms, wire.Transform{Type: typ, ID: 0})
			}
			continue
		}
		chosen, ok := pick(typ, ourT, theirT, o.PreferGroup)
		if !ok {
			return wire.Proposal{}, false
		}
		out.Transforms = append(out.Transforms, chosen)
	}
	return out, true
}

func pick(typ ipsec.TransformType, ours, theirs []wire.Transform, prefer ipsec.TransformID) (wire.Transform, bool) {
	if typ == ipsec.TransformKE && prefer != 0 {
		for _, a := range ours {
			if a.ID == prefer && containsTransform(theirs, a) {
				return a, true
			}
		}
	}
	for _, a := range ours {
		if containsTransform(theirs, a) {
			return a, true
		}
	}
	return wire.Transform{}, false
}

func containsTransform(ts []wire.Transform, a wire.Transform) bool {
	al, aok := a.KeyLength()
	for _, t := range ts {
		if t.Type != a.Type || t.ID != a.ID {
			continue
		}
		if tl, tok := t.KeyLength(); tl == al && tok == aok {
			return true
		}
	}
	return false
}

// onlyNone reports whether ts is empty or holds only the NONE value of an
// optional transform type (INTEG NONE, KE NONE).
func onlyNone(typ ipsec.TransformType, ts []wire.Transform) bool {
	if typ != ipsec.TransformInteg && typ != ipsec.TransformKE {
		return false
	}
	for _, t := range ts {
		if t.ID != 0 {
			return false
		}
	}
	return true
}

func ofType(ts []wire.Transform, typ ipsec.TransformType) []wire.Transform {
	var out []wire.Transform
	for _, t := range ts {
		if t.Type == typ {
			out = append(out, t)
		}
	}
	return out
}

// Transform returns the chosen transform of type typ in an accepted
// proposal.
func Transform(p wire.Proposal, typ ipsec.TransformType) (wire.Transform, bool) {
	for _, t := range p.Transforms {
		if t.Type == typ {
			return t, true
		}
	}
	return wire.Transform{}, false
}

// Groups returns the Key Exchange transforms of p in order.
func Groups(p wire.Proposal) []ipsec.TransformID {
	var out []ipsec.TransformID
	for _, t := range ofType(p.Transforms, ipsec.TransformKE) {
		out = append(out, t.ID)
	}
	return out
}

// AdditionalKEs returns the additional key exchanges of an accepted
// proposal in the order they run (RFC 9370 §2.2.1: by transform type,
// ADDKE1 first), without the NONE ones.
func AdditionalKEs(p wire.Proposal) []ipsec.TransformID {
	var out []ipsec.TransformID
	for typ := ipsec.TransformAddKE1; typ <= ipsec.TransformAddKE7; typ++ {
		if t, ok := Transform(p, typ); ok && t.ID != ipsec.GroupNone {
			out = append(out, t.ID)
		}
	}
	return out
}

// HasAdditionalKE reports whether any of ps lists an additional key
// exchange other than NONE.
func HasAdditionalKE(ps []wire.Proposal) bool {
	for _, p := range ps {
		for _, t := range p.Transforms {
			if isAddKE(t.Type) && t.ID != ipsec.GroupNone {
				return true
			}
		}
	}
	return false
}

// WithoutKE returns copies of ps without Key Exchange and Additional Key
// Exchange transforms, for the SA offer of IKE_AUTH (RFC 7296 §1.2, RFC
// 9370 §2.2.3).
func WithoutKE(ps []wire.Proposal) []wire.Proposal {
	out := make([]wire.Proposal, len(ps))
	for i, p := range ps {
		p.Transforms = slices.DeleteFunc(slices.Clone(p.Transforms), func(t wire.Transform) bool {
			return t.Type == ipsec.TransformKE || isAddKE(t.Type)
		})
		out[i] = p
	}
	return out
}

// Single checks that a responder's SA payload holds exactly one proposal
// whose transforms are a subset of what we offered, one per type (RFC 7296
// §2.7, §3.3.6), and returns it.
func Single(offered []wire.Proposal, resp []wire.Proposal) (wire.Proposal, bool) {
	if len(resp) != 1 {
		return wire.Proposal{}, false
	}
	r := resp[0]
	for _, o := range offered {
		if o.Number != r.Number || o.Protocol != r.Protocol {
			continue
		}
		seen := map[ipsec.TransformType]bool{}
		for _, t := range r.Transforms {
			if seen[t.Type] {
				return wire.Proposal{}, false
			}
			seen[t.Type] = true
			if !containsTransform(o.Transforms, t) && !(t.ID == 0 && (t.Type == ipsec.TransformInteg || t.Type == ipsec.TransformKE)) {
				return wire.Proposal{}, false
			}
		}
		// RFC 9370 §2.2.1: an ADDKE type we offered without NONE is
		// required; a responder that leaves it out did not accept it.
		for typ := ipsec.TransformAddKE1; typ <= ipsec.TransformAddKE7; typ++ {
			ot := ofType(o.Transforms, typ)
			if len(ot) > 0 && !seen[typ] && !containsTransform(ot, noneTransform(typ)[0]) {
				return wire.Proposal{}, false
			}
		}
		return r, true
	}
	return wire.Proposal{}, false
}

// WithClassicalFallback returns ps followed, for each proposal whose
// additional key exchanges are all optional (every ADDKE type lists
// NONE), by a copy without them, numbered after the others. A responder
// without RFC 9370 rejects a proposal with transform types it does not
// know (RFC 7296 §3.3.6) rather than ignore them, so the copy is what it
// can accept; one with RFC 9370 picks the original first. ps is returned
// as is when no proposal needs a copy.
func WithClassicalFallback(ps []wire.Proposal) []wire.Proposal {
	var extra []wire.Proposal
	for _, p := range ps {
		has, optional := false, true
		for typ := ipsec.TransformAddKE1; typ <= ipsec.TransformAddKE7; typ++ {
			if ts := ofType(p.Transforms, typ); len(ts) > 0 {
				has = true
				optional = optional && containsTransform(ts, noneTransform(typ)[0])
			}
		}
		if !has || !optional {
			continue
		}
		c := p
		c.Transforms = slices.DeleteFunc(slices.Clone(p.Transforms), func(t wire.Transform) bool { return isAddKE(t.Type) })
		extra = append(extra, c)
	}
	if len(extra) == 0 {
		return ps
	}
	out := append(slices.Clone(ps), extra...)
	for i := len(ps); i < len(out); i++ {
		out[i].Number = uint8(i + 1)
	}
	return out
}
