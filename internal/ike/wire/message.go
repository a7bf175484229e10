// Package wire encodes and decodes IKEv2 messages (RFC 7296 §3) and the
// payloads of the extensions: IKE fragmentation (RFC 7383, used), and the
// codecs of MOBIKE notifications (RFC 4555), signature hash algorithms
// (RFC 7427), PPK (RFC 8784) and IKE_INTERMEDIATE (RFC 9242), which the
// engine does not use yet (README, Status).
//
// The package is a pure codec: it checks every length, count and field
// whose value the RFCs fix, but it does not interpret the negotiation.
// Parse decodes the unencrypted part of a message and stops at the
// Encrypted (SK) or Encrypted Fragment (SKF) payload, returning its body
// undivided (IV | ciphertext | ICV) together with the type of the first
// inner payload; after decryption the caller decodes the inner chain with
// ParsePayloadChain. Marshal is the inverse.
//
// Decoded values alias the input: Parse copies the datagram once into
// Message.Raw and every byte slice in the result points into that copy;
// ParsePayloadChain aliases the slice it is given. All such slices have
// their capacity clipped, so appending to them allocates instead of
// overwriting the message.
//
// Parsers never panic and never allocate in proportion to a length or
// count field before that field has been checked against the bytes that
// are actually present.
package wire

import (
	"strconv"
	"strings"
)

// Message is a decoded IKE message: header plus the ordered payload chain.
type Message struct {
	// Header is the IKE header (RFC 7296 §3.1).
	Header Header
	// Payloads is the unencrypted payload chain in wire order. If the
	// message is protected, the last element is an *Encrypted (RFC 7296
	// §3.14) or *EncryptedFragment (RFC 7383 §2.5).
	Payloads []Payload
	// Raw is the exact message as received, set by Parse. AUTH signs the
	// IKE_SA_INIT messages as sent (RFC 7296 §2.15), and the ICV covers the
	// message from the header to the end of the ciphertext (§3.14), so the
	// bytes must be kept rather than re-encoded. Marshal ignores it.
	Raw []byte
}

// Parse decodes one IKE message, which must fill b exactly: RFC 7296 §3.1
// carries one IKE message per UDP datagram and defines Length as the length
// of the total message, so a datagram that is longer or shorter than the
// header's Length is rejected with ErrBadLength rather than trimmed. Extra
// octets would be covered by neither the ICV nor the AUTH computation and
// accepting them would let an on-path attacker change Raw without being
// noticed. Strip the Non-ESP Marker on port 4500 first (StripNonESPMarker).
//
// Parse copies b; the result does not alias it. Decoding stops after an
// Encrypted or Encrypted Fragment payload, which must be the last payload.
func Parse(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if h.Length < HeaderLen {
		return nil, &ParseError{Offset: 24, Reason: "message length " + utoa(h.Length) + " below header size", Err: ErrBadLength}
	}
	if uint64(h.Length) != uint64(len(b)) {
		reason := "message length " + utoa(h.Length) + " does not match datagram length " + utoa(uint32(len(b)))
		if uint64(h.Length) > uint64(len(b)) {
			return nil, &ParseError{Offset: 24, Reason: reason, Err: ErrTruncated}
		}
		return nil, &ParseError{Offset: 24, Reason: reason, Err: ErrBadLength}
	}
	raw := make([]byte, len(b))
	copy(raw, b)
	m := &Message{Header: h, Raw: raw[:len(raw):len(raw)]}
	m.Payloads, err = parseChain(h.NextPayload, raw[HeaderLen:], HeaderLen, true)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ParsePayloadChain decodes the inner payload chain of a decrypted
// Encrypted payload (or of reassembled fragments), starting with payload
// type first (the Encrypted payload's NextPayload). b must hold exactly the
// chain: the caller strips the IV, padding, Pad Length and ICV. An Encrypted
// payload MUST NOT contain another (RFC 7296 §3.14), so SK and SKF are
// rejected. The result aliases b. Offsets in errors are relative to b.
func ParsePayloadChain(first PayloadType, b []byte) ([]Payload, error) {
	return parseChain(first, b, 0, false)
}

// parseChain walks the Next Payload chain (RFC 7296 §3.2). base is the
// absolute offset of b for error reporting.
func parseChain(next PayloadType, b []byte, base int, outer bool) ([]Payload, error) {
	r := reader{b: b, off: base}
	var out []Payload
	if next != PayloadNone {
		// Typical messages have fewer than 16 payloads; the cap is not
		// derived from any length field.
		out = make([]Payload, 0, min(16, len(b)/genericHeaderLen+1))
	}
	for next != PayloadNone {
		start := r.off
		var np, flags uint8
		var length uint16
		if !r.u8(&np) || !r.u8(&flags) || !r.u16(&length) {
			return nil, &ParseError{Offset: start, Payload: next, Reason: "generic payload header needs 4 octets", Err: ErrTruncated}
		}
		if length < genericHeaderLen {
			return nil, &ParseError{Offset: start, Payload: next, Reason: "payload length " + utoa(uint32(length)) + " below 4", Err: ErrBadLength}
		}
		var body reader
		if !r.sub(int(length)-genericHeaderLen, &body) {
			return nil, &ParseError{Offset: start, Payload: next, Reason: "payload length " + utoa(uint32(length)) + " exceeds remaining " + utoa(uint32(r.len()+genericHeaderLen)) + " octets", Err: ErrTruncated}
		}
		body.pt = next
		crit := CriticalFlag{Critical: flags&0x80 != 0}
		if next == PayloadSK || next == PayloadSKF {
			if !outer {
				return nil, &ParseError{Offset: start, Payload: next, Reason: "encrypted payload inside encrypted payload", Err: ErrSyntax}
			}
			if r.len() != 0 {
				return nil, &ParseError{Offset: r.off, Payload: next, Reason: "encrypted payload is not the last payload", Err: ErrSyntax}
			}
			p, err := parseEncrypted(next, PayloadType(np), crit, &body)
			if err != nil {
				return nil, err
			}
			return append(out, p), nil
		}
		p, err := parseBody(next, crit, &body)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		next = PayloadType(np)
	}
	if r.len() != 0 {
		return nil, &ParseError{Offset: r.off, Reason: utoa(uint32(r.len())) + " octets after the last payload", Err: ErrBadLength}
	}
	return out, nil
}

// parseBody dispatches on the payload type. Every parser must consume the
// whole body or fail.
func parseBody(t PayloadType, c CriticalFlag, r *reader) (Payload, error) {
	switch t {
	case PayloadSA:
		return parseSA(c, r)
	case PayloadKE:
		return parseKE(c, r)
	case PayloadIDi, PayloadIDr:
		return parseIdentification(t, c, r)
	case PayloadCert:
		return parseCertificate(c, r)
	case PayloadCertReq:
		return parseCertRequest(c, r)
	case PayloadAuth:
		return parseAuth(c, r)
	case PayloadNonce:
		return parseNonce(c, r)
	case PayloadNotify:
		return parseNotify(c, r)
	case PayloadDelete:
		return parseDelete(c, r)
	case PayloadVendorID:
		return &VendorID{CriticalFlag: c, Data: r.rest()}, nil
	case PayloadTSi, PayloadTSr:
		return parseTrafficSelectors(t, c, r)
	case PayloadCP:
		return parseConfiguration(c, r)
	case PayloadEAP:
		return parseEAP(c, r)
	}
	return &Unknown{CriticalFlag: c, PayloadType: t, Body: r.rest()}, nil
}

// Marshal encodes the message. Header.NextPayload and Header.Length are
// computed from the payloads; the Header value itself is not modified.
func (m *Message) Marshal() ([]byte, error) {
	return m.Append(make([]byte, 0, 512))
}

// Append appends the encoded message to b. If the last payload is
// *Encrypted, its Body ends the output, so a caller building a protected
// message can marshal a placeholder body of the final size and then fill
// the IV, ciphertext and ICV in place: the associated data / integrity
// input is everything before the ICV (RFC 7296 §3.14, RFC 5282 §5.1).
func (m *Message) Append(b []byte) ([]byte, error) {
	start := len(b)
	h := m.Header
	h.NextPayload = PayloadNone
	if len(m.Payloads) > 0 && m.Payloads[0] != nil {
		h.NextPayload = m.Payloads[0].Type()
	}
	b = h.Append(b)
	b, err := appendChain(b, m.Payloads, true)
	if err != nil {
		return nil, err
	}
	n := len(b) - start
	if uint64(n) > 0xffffffff {
		return nil, invalidf("message length %d exceeds 32 bits", n)
	}
	b[start+24] = byte(n >> 24)
	b[start+25] = byte(n >> 16)
	b[start+26] = byte(n >> 8)
	b[start+27] = byte(n)
	return b, nil
}

// AppendPayloadChain appends the payloads with their generic headers to b,
// chaining Next Payload fields and ending with zero, and returns the type of
// the first payload. It is used to build the plaintext of an Encrypted
// payload, so SK and SKF are rejected.
func AppendPayloadChain(b []byte, ps []Payload) ([]byte, PayloadType, error) {
	b, err := appendChain(b, ps, false)
	if err != nil {
		return nil, PayloadNone, err
	}
	first := PayloadNone
	if len(ps) > 0 {
		first = ps[0].Type()
	}
	return b, first, nil
}

func appendChain(b []byte, ps []Payload, outer bool) ([]byte, error) {
	for i, p := range ps {
		if p == nil {
			return nil, invalidf("payload %d is nil", i)
		}
	}
	for i, p := range ps {
		next := PayloadNone
		if i+1 < len(ps) {
			next = ps[i+1].Type()
		}
		switch e := p.(type) {
		case *Encrypted:
			next = e.NextPayload
		case *EncryptedFragment:
			next = e.NextPayload
		}
		if t := p.Type(); t == PayloadSK || t == PayloadSKF {
			if !outer {
				return nil, invalidf("%v payload inside an encrypted payload", t)
			}
			if i != len(ps)-1 {
				return nil, invalidf("%v payload is not the last payload", t)
			}
		}
		var err error
		if b, err = AppendPayload(b, p, next); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// AppendPayload appends one payload with its generic payload header
// (RFC 7296 §3.2) to b, writing next as its Next Payload field.
func AppendPayload(b []byte, p Payload, next PayloadType) ([]byte, error) {
	start := len(b)
	var flags byte
	if p.IsCritical() {
		flags = 0x80
	}
	b = append(b, byte(next), flags)
	b, at := appendLen16(b)
	b, err := p.AppendBody(b)
	if err != nil {
		return nil, err
	}
	if n := len(b) - start; n > 0xffff {
		return nil, invalidf("%v payload length %d exceeds 65535", p.Type(), n)
	}
	return patchLen16(b, at, start, "payload")
}

// Find returns the first payload of type t, or nil.
func (m *Message) Find(t PayloadType) Payload {
	for _, p := range m.Payloads {
		if p.Type() == t {
			return p
		}
	}
	return nil
}

// EncryptedBodyOffset returns the offset in Raw of the body of the trailing
// Encrypted or Encrypted Fragment payload (its IV, for SKF after the two
// fragment counters), or -1 if the message has none or was not parsed.
// Raw[:off] is the AEAD associated data prefix (RFC 5282 §5.1).
func (m *Message) EncryptedBodyOffset() int {
	if len(m.Payloads) == 0 || m.Raw == nil {
		return -1
	}
	switch e := m.Payloads[len(m.Payloads)-1].(type) {
	case *Encrypted:
		return len(m.Raw) - len(e.Body)
	case *EncryptedFragment:
		return len(m.Raw) - len(e.Body)
	}
	return -1
}

// CheckCritical implements the rule of RFC 7296 §2.5 for the payload types
// this package does not understand: it returns an *UnsupportedCriticalError
// for the first *Unknown payload whose Critical bit is set, and nil if
// every unknown payload may be skipped.
func CheckCritical(ps []Payload) error {
	for _, p := range ps {
		if u, ok := p.(*Unknown); ok && u.Critical {
			return &UnsupportedCriticalError{Type: u.PayloadType}
		}
	}
	return nil
}

// SkipUnknown returns the payloads without the non-critical *Unknown ones,
// which RFC 7296 §2.5 says must be ignored. Call CheckCritical first; any
// critical unknown payload is kept. The input slice is not modified.
func SkipUnknown(ps []Payload) []Payload {
	out := make([]Payload, 0, len(ps))
	for _, p := range ps {
		if u, ok := p.(*Unknown); ok && !u.Critical {
			continue
		}
		out = append(out, p)
	}
	return out
}

// String summarises the message for logs, e.g.
// "IKE_SA_INIT request 0 [ SA KE No N(NAT_DETECTION_SOURCE_IP) ]".
func (m *Message) String() string {
	var sb strings.Builder
	sb.WriteString(m.Header.Exchange.String())
	if m.Header.Flags.Response() {
		sb.WriteString(" response ")
	} else {
		sb.WriteString(" request ")
	}
	sb.WriteString(utoa(m.Header.MessageID))
	sb.WriteString(" [")
	writePayloadNames(&sb, m.Payloads)
	sb.WriteString(" ]")
	return sb.String()
}

func writePayloadNames(sb *strings.Builder, ps []Payload) {
	for _, p := range ps {
		sb.WriteByte(' ')
		sb.WriteString(p.Type().String())
		switch v := p.(type) {
		case *Notify:
			sb.WriteString("(" + v.NotifyType.String() + ")")
		case *EncryptedFragment:
			sb.WriteString("(" + utoa(uint32(v.FragmentNumber)) + "/" + utoa(uint32(v.TotalFragments)) + ")")
		}
	}
}

func utoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
