package wire

import (
	"net/netip"
	"secgw/internal/ipsec"
)

// Selector lengths fixed by RFC 7296 §3.13.1.
const (
	tsIPv4Len = 16
	tsIPv6Len = 40
	tsHdrLen  = 4
)

// TrafficSelectors is the TSi or TSr payload (RFC 7296 §3.13).
type TrafficSelectors struct {
	CriticalFlag
	// Responder selects TSr (payload type 45) instead of TSi (44)
	// (RFC 7296 §3.13).
	Responder bool
	// Selectors are the traffic selectors; their number is the Number of
	// TSs field (RFC 7296 §3.13).
	Selectors []ipsec.TrafficSelector
}

// Type returns PayloadTSi or PayloadTSr.
func (ts *TrafficSelectors) Type() PayloadType {
	if ts.Responder {
		return PayloadTSr
	}
	return PayloadTSi
}

// AppendBody appends the count, RESERVED and the selectors (RFC 7296 §3.13).
func (ts *TrafficSelectors) AppendBody(b []byte) ([]byte, error) {
	if len(ts.Selectors) > 0xff {
		return nil, invalidf("%d traffic selectors", len(ts.Selectors))
	}
	b = append(b, byte(len(ts.Selectors)), 0, 0, 0)
	for i := range ts.Selectors {
		var err error
		if b, err = appendSelector(b, &ts.Selectors[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendSelector(b []byte, s *ipsec.TrafficSelector) ([]byte, error) {
	start := len(b)
	b = append(b, byte(s.Type), s.IPProtocol)
	b, at := appendLen16(b)
	switch s.Type {
	case ipsec.TSIPv4AddrRange, ipsec.TSIPv6AddrRange:
		want4 := s.Type == ipsec.TSIPv4AddrRange
		for _, a := range [2]netip.Addr{s.StartAddr, s.EndAddr} {
			if !a.IsValid() || a.Is4() != want4 || a.Zone() != "" {
				return nil, invalidf("address %v in %v selector", a, s.Type)
			}
		}
		if s.Data != nil {
			return nil, invalidf("address range selector with opaque data")
		}
		b = appendU16(b, s.StartPort)
		b = appendU16(b, s.EndPort)
		b = appendAddr(b, s.StartAddr)
		b = appendAddr(b, s.EndAddr)
	default:
		if s.StartPort != 0 || s.EndPort != 0 || s.StartAddr.IsValid() || s.EndAddr.IsValid() {
			return nil, invalidf("ports or addresses in a TS of type %d", s.Type)
		}
		b = append(b, s.Data...)
	}
	return patchLen16(b, at, start, "traffic selector")
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}

// parseTrafficSelectors checks that Number of TSs selectors fill the
// payload exactly and that address range selectors have the lengths
// RFC 7296 §3.13.1 fixes (16 octets for IPv4, 40 for IPv6).
func parseTrafficSelectors(t PayloadType, c CriticalFlag, r *reader) (*TrafficSelectors, error) {
	ts := &TrafficSelectors{CriticalFlag: c, Responder: t == PayloadTSr}
	var n, r1, r2, r3 uint8
	if !r.u8(&n) || !r.u8(&r1) || !r.u8(&r2) || !r.u8(&r3) {
		return nil, r.fail(ErrBadLength, "TS body needs 4 octets")
	}
	if n > 0 {
		// Each selector needs at least 4 octets: bounded by the input.
		ts.Selectors = make([]ipsec.TrafficSelector, 0, min(int(n), r.len()/tsHdrLen))
	}
	for i := 0; i < int(n); i++ {
		start := r.off
		var typ, proto uint8
		var slen uint16
		if !r.u8(&typ) || !r.u8(&proto) || !r.u16(&slen) {
			return nil, r.fail(ErrBadLength, "traffic selector %d of %d missing", i+1, n)
		}
		s := ipsec.TrafficSelector{Type: ipsec.TSType(typ), IPProtocol: proto}
		want := int(slen)
		switch s.Type {
		case ipsec.TSIPv4AddrRange:
			want = tsIPv4Len
		case ipsec.TSIPv6AddrRange:
			want = tsIPv6Len
		}
		if int(slen) != want || slen < tsHdrLen {
			return nil, &ParseError{Offset: start, Payload: t, Reason: "selector length " + utoa(uint32(slen)) + " invalid for TS type " + utoa(uint32(typ)), Err: ErrBadLength}
		}
		var sr reader
		if !r.sub(int(slen)-tsHdrLen, &sr) {
			return nil, &ParseError{Offset: start, Payload: t, Reason: "selector length " + utoa(uint32(slen)) + " exceeds payload", Err: ErrBadLength}
		}
		switch s.Type {
		case ipsec.TSIPv4AddrRange, ipsec.TSIPv6AddrRange:
			sr.u16(&s.StartPort)
			sr.u16(&s.EndPort)
			var a, z []byte
			half := sr.len() / 2
			sr.bytes(half, &a)
			sr.bytes(half, &z)
			if half == 4 {
				s.StartAddr, s.EndAddr = netip.AddrFrom4([4]byte(a)), netip.AddrFrom4([4]byte(z))
			} else {
				s.StartAddr, s.EndAddr = netip.AddrFrom16([16]byte(a)), netip.AddrFrom16([16]byte(z))
			}
		default:
			s.Data = sr.rest()
		}
		ts.Selectors = append(ts.Selectors, s)
	}
	if r.len() != 0 {
		return nil, r.fail(ErrBadLength, "%d octets after the last traffic selector", r.len())
	}
	return ts, nil
}
