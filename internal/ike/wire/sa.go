package wire

import "secgw/internal/ipsec"

// SA is the Security Association payload (RFC 7296 §3.3).
type SA struct {
	CriticalFlag
	// Proposals in order of preference, at least one (RFC 7296 §3.3).
	Proposals []Proposal
}

// Proposal is a Proposal Substructure (RFC 7296 §3.3.1).
type Proposal struct {
	// Number is the Proposal Num: 1 for the first proposal, one more for
	// each following one; a responder echoes the number it accepts
	// (RFC 7296 §3.3.1). It is not renumbered on encoding.
	Number uint8
	// Protocol is the Protocol ID: IKE, AH or ESP (RFC 7296 §3.3.1).
	Protocol ProtocolID
	// SPI is the sender's SPI: empty in the initial IKE SA negotiation, 8
	// octets when rekeying an IKE SA, 4 octets for AH and ESP
	// (RFC 7296 §3.3.1). Its length is the SPI Size field.
	SPI []byte
	// Transforms offered in this proposal (RFC 7296 §3.3.2). Their number
	// is the Num Transforms field.
	Transforms []Transform
}

// Transform is a Transform Substructure (RFC 7296 §3.3.2).
type Transform struct {
	// Type is the Transform Type (RFC 7296 §3.3.2).
	Type ipsec.TransformType
	// ID is the Transform ID, whose meaning depends on Type (RFC 7296
	// §3.3.2; IANA "Transform Type n - ... IDs").
	ID ipsec.TransformID
	// Attributes are the Transform Attributes (RFC 7296 §3.3.5); in
	// practice only Key Length.
	Attributes []TransformAttribute
}

// AttributeType is the 15-bit Attribute Type of a transform attribute
// (RFC 7296 §3.3.5, IANA "IKEv2 Transform Attribute Types").
type AttributeType uint16

// AttributeKeyLength is the Key Length attribute, in bits, always sent in
// TV format (RFC 7296 §3.3.5).
const AttributeKeyLength AttributeType = 14

// TransformAttribute is a Data Attribute (RFC 7296 §3.3.5).
type TransformAttribute struct {
	// Type is the Attribute Type, 15 bits (RFC 7296 §3.3.5).
	Type AttributeType
	// TV is the Attribute Format bit: true for Type/Value, where the value
	// is the 16-bit Value; false for Type/Length/Value, where the value is
	// Data (RFC 7296 §3.3.5).
	TV bool
	// Value is the attribute value in TV format (RFC 7296 §3.3.5).
	Value uint16
	// Data is the attribute value in TLV format (RFC 7296 §3.3.5).
	Data []byte
}

// KeyLengthAttribute returns the TV Key Length attribute for a key of
// bits bits (RFC 7296 §3.3.5).
func KeyLengthAttribute(bits uint16) TransformAttribute {
	return TransformAttribute{Type: AttributeKeyLength, TV: true, Value: bits}
}

// KeyLength returns the value of the transform's Key Length attribute.
func (t *Transform) KeyLength() (bits uint16, ok bool) {
	for _, a := range t.Attributes {
		if a.Type == AttributeKeyLength && a.TV {
			return a.Value, true
		}
	}
	return 0, false
}

// Substructure markers of the Last Substruc field (RFC 7296 §3.3.1, §3.3.2).
const (
	lastSubstruc      = 0
	moreProposals     = 2
	moreTransforms    = 3
	proposalFixedLen  = 8
	transformFixedLen = 8
)

// Type returns PayloadSA.
func (*SA) Type() PayloadType { return PayloadSA }

// AppendBody appends the proposals (RFC 7296 §3.3).
func (sa *SA) AppendBody(b []byte) ([]byte, error) {
	if len(sa.Proposals) == 0 {
		return nil, invalidf("SA payload without proposals")
	}
	for i := range sa.Proposals {
		marker := byte(moreProposals)
		if i == len(sa.Proposals)-1 {
			marker = lastSubstruc
		}
		var err error
		if b, err = sa.Proposals[i].append(b, marker); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (p *Proposal) append(b []byte, marker byte) ([]byte, error) {
	switch len(p.SPI) {
	case 0, 4, 8:
	default:
		return nil, invalidf("proposal SPI size %d not 0, 4 or 8", len(p.SPI))
	}
	if len(p.Transforms) > 0xff {
		return nil, invalidf("%d transforms in a proposal", len(p.Transforms))
	}
	start := len(b)
	b = append(b, marker, 0)
	b, at := appendLen16(b)
	b = append(b, p.Number, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
	b = append(b, p.SPI...)
	for i := range p.Transforms {
		tm := byte(moreTransforms)
		if i == len(p.Transforms)-1 {
			tm = lastSubstruc
		}
		var err error
		if b, err = p.Transforms[i].append(b, tm); err != nil {
			return nil, err
		}
	}
	return patchLen16(b, at, start, "proposal")
}

func (t *Transform) append(b []byte, marker byte) ([]byte, error) {
	start := len(b)
	b = append(b, marker, 0)
	b, at := appendLen16(b)
	b = append(b, byte(t.Type), 0)
	b = appendU16(b, uint16(t.ID))
	for _, a := range t.Attributes {
		if a.Type > 0x7fff {
			return nil, invalidf("attribute type %d exceeds 15 bits", a.Type)
		}
		if a.TV {
			if a.Data != nil {
				return nil, invalidf("TV attribute %d with TLV data", a.Type)
			}
			b = appendU16(b, 0x8000|uint16(a.Type))
			b = appendU16(b, a.Value)
			continue
		}
		if a.Value != 0 {
			return nil, invalidf("TLV attribute %d with TV value", a.Type)
		}
		if len(a.Data) > 0xffff {
			return nil, invalidf("attribute %d value of %d octets", a.Type, len(a.Data))
		}
		b = appendU16(b, uint16(a.Type))
		b = appendU16(b, uint16(len(a.Data)))
		b = append(b, a.Data...)
	}
	return patchLen16(b, at, start, "transform")
}

// parseSA decodes the proposals. RFC 7296 §3.3 requires the Payload Length
// to be consistent with the internal lengths and counts: every proposal
// and transform must fill its parent exactly, the Last Substruc markers
// must agree with the lengths, and Num Transforms must match.
func parseSA(c CriticalFlag, r *reader) (*SA, error) {
	sa := &SA{CriticalFlag: c}
	if r.len() == 0 {
		return nil, r.fail(ErrSyntax, "SA payload without proposals")
	}
	for {
		start := r.off
		var marker, reserved uint8
		var plen uint16
		if !r.u8(&marker) || !r.u8(&reserved) || !r.u16(&plen) {
			return nil, r.fail(ErrTruncated, "proposal header")
		}
		if plen < proposalFixedLen {
			return nil, &ParseError{Offset: start, Payload: PayloadSA, Reason: "proposal length " + utoa(uint32(plen)) + " below 8", Err: ErrBadLength}
		}
		var pr reader
		if !r.sub(int(plen)-4, &pr) {
			return nil, &ParseError{Offset: start, Payload: PayloadSA, Reason: "proposal length " + utoa(uint32(plen)) + " exceeds SA payload", Err: ErrBadLength}
		}
		p, err := parseProposal(&pr)
		if err != nil {
			return nil, err
		}
		sa.Proposals = append(sa.Proposals, p)
		switch marker {
		case lastSubstruc:
			if r.len() != 0 {
				return nil, r.fail(ErrBadLength, "%d octets after the last proposal", r.len())
			}
			return sa, nil
		case moreProposals:
			if r.len() == 0 {
				return nil, r.fail(ErrTruncated, "proposal marked as not last but none follows")
			}
		default:
			return nil, &ParseError{Offset: start, Payload: PayloadSA, Reason: "proposal Last Substruc " + utoa(uint32(marker)) + " not 0 or 2", Err: ErrSyntax}
		}
	}
}

func parseProposal(r *reader) (Proposal, error) {
	var p Proposal
	var proto, spiSize, nt uint8
	if !r.u8(&p.Number) || !r.u8(&proto) || !r.u8(&spiSize) || !r.u8(&nt) {
		return p, r.fail(ErrTruncated, "proposal fixed fields")
	}
	p.Protocol = ProtocolID(proto)
	switch spiSize {
	case 0, 4, 8:
	default:
		return p, r.fail(ErrSyntax, "proposal SPI size %d not 0, 4 or 8", spiSize)
	}
	if !r.bytes(int(spiSize), &p.SPI) {
		return p, r.fail(ErrBadLength, "proposal SPI of %d octets exceeds proposal", spiSize)
	}
	if nt > 0 {
		// Each transform needs at least 8 octets, so this bounds the
		// allocation by the bytes present, not by the count field.
		p.Transforms = make([]Transform, 0, min(int(nt), r.len()/transformFixedLen))
	}
	for i := 0; i < int(nt); i++ {
		start := r.off
		var marker, reserved, ttype, reserved2 uint8
		var tlen, id uint16
		if !r.u8(&marker) || !r.u8(&reserved) || !r.u16(&tlen) {
			return p, r.fail(ErrBadLength, "transform %d of %d missing from proposal", i+1, nt)
		}
		want := uint8(moreTransforms)
		if i == int(nt)-1 {
			want = lastSubstruc
		}
		if marker != want {
			return p, &ParseError{Offset: start, Payload: PayloadSA, Reason: "transform Last Substruc " + utoa(uint32(marker)) + " inconsistent with Num Transforms", Err: ErrSyntax}
		}
		if tlen < transformFixedLen {
			return p, &ParseError{Offset: start, Payload: PayloadSA, Reason: "transform length " + utoa(uint32(tlen)) + " below 8", Err: ErrBadLength}
		}
		var tr reader
		if !r.sub(int(tlen)-4, &tr) {
			return p, &ParseError{Offset: start, Payload: PayloadSA, Reason: "transform length " + utoa(uint32(tlen)) + " exceeds proposal", Err: ErrBadLength}
		}
		tr.u8(&ttype)
		tr.u8(&reserved2)
		tr.u16(&id)
		t := Transform{Type: ipsec.TransformType(ttype), ID: ipsec.TransformID(id)}
		for tr.len() > 0 {
			a, err := parseAttribute(&tr)
			if err != nil {
				return p, err
			}
			t.Attributes = append(t.Attributes, a)
		}
		p.Transforms = append(p.Transforms, t)
	}
	if r.len() != 0 {
		return p, r.fail(ErrBadLength, "%d octets after the last transform", r.len())
	}
	return p, nil
}

func parseAttribute(r *reader) (TransformAttribute, error) {
	var a TransformAttribute
	var t, v uint16
	if !r.u16(&t) || !r.u16(&v) {
		return a, r.fail(ErrTruncated, "transform attribute header")
	}
	a.Type = AttributeType(t & 0x7fff)
	if t&0x8000 != 0 {
		a.TV = true
		a.Value = v
		return a, nil
	}
	if !r.bytes(int(v), &a.Data) {
		return a, r.fail(ErrBadLength, "attribute length %d exceeds transform", v)
	}
	return a, nil
}
