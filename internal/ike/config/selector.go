package config

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"

	"secgw/internal/ipsec"
)

// Selector is the traffic selector of a configured security policy
// (RFC 7296 §3.13.1): an IPv4 or IPv6 address range that is one prefix
// (a subnet: what the configuration gives), an IP protocol and a port
// range, in 24 bytes instead of ipsec.TrafficSelector's 80 (two
// netip.Addr and a Data slice). A VPN holds two per security policy:
// 100k VPNs of four policies hold 800k, and the compact form makes
// their policies 320 bytes per VPN instead of 896. TS gives the
// selector the engine negotiates with.
type Selector struct {
	// first is the range's first address, in the 16-byte form (IPv4
	// mapped); bits the length of the prefix that is the range, in
	// that form (96 and more for IPv4).
	first [16]byte
	bits  uint8
	// family is 0 for the zero Selector (no selector), 4 or 6.
	family             uint8
	proto              uint8
	startPort, endPort uint16
}

// NewSelector returns ts in compact form. Only address range selectors
// (TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE) whose addresses are of the
// type's family, have no zone and span exactly one prefix
// (ipsec.SelectorFromPrefix's) are configured ones; any other is an
// error. The zero ipsec.TrafficSelector gives the zero Selector.
func NewSelector(ts ipsec.TrafficSelector) (Selector, error) {
	var s Selector
	switch {
	case ts.Type == 0 && !ts.StartAddr.IsValid() && !ts.EndAddr.IsValid() && ts.Data == nil &&
		ts.IPProtocol == 0 && ts.StartPort == 0 && ts.EndPort == 0:
		return s, nil
	case ts.Data != nil:
		return s, fmt.Errorf("config: selector of type %d with data is not an address range", ts.Type)
	case ts.Type == ipsec.TSIPv4AddrRange && ts.StartAddr.Is4() && ts.EndAddr.Is4():
		s.family = 4
	case ts.Type == ipsec.TSIPv6AddrRange && ts.StartAddr.Is6() && ts.EndAddr.Is6() &&
		ts.StartAddr.Zone() == "" && ts.EndAddr.Zone() == "":
		s.family = 6
	default:
		return s, fmt.Errorf("config: selector %v is not an address range of its type's family", ts)
	}
	first, last := ts.StartAddr.As16(), ts.EndAddr.As16()
	bits, ok := prefixOf(first, last)
	if !ok {
		return Selector{}, fmt.Errorf("config: selector %v is not the range of one prefix", ts)
	}
	s.first, s.bits = first, bits
	s.proto, s.startPort, s.endPort = ts.IPProtocol, ts.StartPort, ts.EndPort
	return s, nil
}

// prefixOf returns the length of the prefix whose range is first to
// last (16-byte addresses), if there is one: the bits they share, with
// every later bit 0 in first and 1 in last.
func prefixOf(first, last [16]byte) (uint8, bool) {
	fh, fl := binary.BigEndian.Uint64(first[:8]), binary.BigEndian.Uint64(first[8:])
	lh, ll := binary.BigEndian.Uint64(last[:8]), binary.BigEndian.Uint64(last[8:])
	n := bits.LeadingZeros64(fh ^ lh)
	if n == 64 {
		n += bits.LeadingZeros64(fl ^ ll)
	}
	hh, hl := hostMask(uint8(n))
	return uint8(n), fh&hh == 0 && fl&hl == 0 && lh&hh == hh && ll&hl == hl
}

// hostMask returns the bits after a prefix of n bits of a 16-byte
// address, high and low halves.
func hostMask(n uint8) (hi, lo uint64) {
	switch {
	case n >= 128:
		return 0, 0
	case n >= 64:
		return 0, ^uint64(0) >> (n - 64)
	}
	return ^uint64(0) >> n, ^uint64(0)
}

// last returns the range's last address, in the 16-byte form.
func (s Selector) last() [16]byte {
	hh, hl := hostMask(s.bits)
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(s.first[:8])|hh)
	binary.BigEndian.PutUint64(out[8:], binary.BigEndian.Uint64(s.first[8:])|hl)
	return out
}

// MustSelector is NewSelector for a selector known to be an address
// range (ipsec.SelectorFromPrefix's); it panics on any other.
func MustSelector(ts ipsec.TrafficSelector) Selector {
	s, err := NewSelector(ts)
	if err != nil {
		panic(err)
	}
	return s
}

// TS returns the selector as the engine and the wire use it: exactly
// the ipsec.TrafficSelector it was made from.
func (s Selector) TS() ipsec.TrafficSelector {
	switch s.family {
	case 4:
		return ipsec.TrafficSelector{Type: ipsec.TSIPv4AddrRange, IPProtocol: s.proto, StartPort: s.startPort, EndPort: s.endPort,
			StartAddr: netip.AddrFrom16(s.first).Unmap(), EndAddr: netip.AddrFrom16(s.last()).Unmap()}
	case 6:
		return ipsec.TrafficSelector{Type: ipsec.TSIPv6AddrRange, IPProtocol: s.proto, StartPort: s.startPort, EndPort: s.endPort,
			StartAddr: netip.AddrFrom16(s.first), EndAddr: netip.AddrFrom16(s.last())}
	}
	return ipsec.TrafficSelector{}
}

// IsZero reports whether s is the zero Selector (no selector).
func (s Selector) IsZero() bool { return s.family == 0 }
