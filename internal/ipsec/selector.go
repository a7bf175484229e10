package ipsec

import "net/netip"

// TSType is the TS Type of a traffic selector (RFC 7296 §3.13.1, IANA
// "IKEv2 Traffic Selector Types").
type TSType uint8

// Traffic selector types.
const (
	TSIPv4AddrRange TSType = 7 // TS_IPV4_ADDR_RANGE (RFC 7296 §3.13.1)
	TSIPv6AddrRange TSType = 8 // TS_IPV6_ADDR_RANGE (RFC 7296 §3.13.1)
)

// TrafficSelector is one Traffic Selector substructure (RFC 7296 §3.13.1).
type TrafficSelector struct {
	// Type is the TS Type (RFC 7296 §3.13.1).
	Type TSType
	// IPProtocol is the IP Protocol ID, 0 for any (RFC 7296 §3.13.1). For
	// other TS types it holds the second octet of the selector verbatim.
	IPProtocol uint8
	// StartPort is the Start Port; 0 means any, and for ICMP it carries
	// type and code (RFC 7296 §3.13.1).
	StartPort uint16
	// EndPort is the End Port; 65535 means any (RFC 7296 §3.13.1).
	EndPort uint16
	// StartAddr is the Starting Address, IPv4 for TS_IPV4_ADDR_RANGE and
	// IPv6 for TS_IPV6_ADDR_RANGE (RFC 7296 §3.13.1).
	StartAddr netip.Addr
	// EndAddr is the Ending Address (RFC 7296 §3.13.1).
	EndAddr netip.Addr
	// Data holds, for TS types other than 7 and 8, the selector octets that
	// follow the four-octet TS Type / Selector Length header; ports and
	// addresses are then unused (RFC 7296 §3.13.1 leaves the layout to the
	// type, e.g. TS_SECLABEL of RFC 9478).
	Data []byte
}

// SelectorFromPrefix returns the address range selector covering p, for
// IP protocol proto (0 for any) and the port range [startPort, endPort].
func SelectorFromPrefix(p netip.Prefix, proto uint8, startPort, endPort uint16) TrafficSelector {
	p = p.Masked()
	first := p.Addr()
	typ := TSIPv4AddrRange
	if !first.Is4() {
		typ = TSIPv6AddrRange
	}
	return TrafficSelector{
		Type: typ, IPProtocol: proto, StartPort: startPort, EndPort: endPort,
		StartAddr: first, EndAddr: LastAddr(p),
	}
}

// LastAddr returns the highest address in the masked prefix p.
func LastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := range a {
		switch {
		case bits >= 8*(i+1):
		case bits <= 8*i:
			a[i] = 0xff
		default:
			a[i] |= 0xff >> (bits - 8*i)
		}
	}
	if p.Addr().Is4() {
		return netip.AddrFrom16(a).Unmap()
	}
	return netip.AddrFrom16(a)
}
