package config

import (
	"fmt"
	"net/netip"

	"secgw/internal/ipsec"
)

// Selector is the traffic selector of a configured security policy
// (RFC 7296 §3.13.1): an IPv4 or IPv6 address range, an IP protocol and
// a port range, in 38 bytes instead of ipsec.TrafficSelector's 80 (two
// netip.Addr and a Data slice). A VPN holds two per security policy:
// 100k VPNs of four policies hold 800k, and the compact form makes
// their policies 448 bytes per VPN instead of 896. TS gives the
// selector the engine negotiates with.
type Selector struct {
	startAddr, endAddr [16]byte
	// family is 0 for the zero Selector (no selector), 4 or 6.
	family             uint8
	proto              uint8
	startPort, endPort uint16
}

// NewSelector returns ts in compact form. Only address range selectors
// (TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE) whose addresses are of the
// type's family and have no zone are configured ones; any other is an
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
	s.startAddr, s.endAddr = ts.StartAddr.As16(), ts.EndAddr.As16()
	s.proto, s.startPort, s.endPort = ts.IPProtocol, ts.StartPort, ts.EndPort
	return s, nil
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
			StartAddr: netip.AddrFrom16(s.startAddr).Unmap(), EndAddr: netip.AddrFrom16(s.endAddr).Unmap()}
	case 6:
		return ipsec.TrafficSelector{Type: ipsec.TSIPv6AddrRange, IPProtocol: s.proto, StartPort: s.startPort, EndPort: s.endPort,
			StartAddr: netip.AddrFrom16(s.startAddr), EndAddr: netip.AddrFrom16(s.endAddr)}
	}
	return ipsec.TrafficSelector{}
}

// IsZero reports whether s is the zero Selector (no selector).
func (s Selector) IsZero() bool { return s.family == 0 }
