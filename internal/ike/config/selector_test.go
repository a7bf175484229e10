package config

import (
	"net/netip"
	"reflect"
	"testing"
	"unsafe"

	"secgw/internal/ipsec"
)

// TestSelectorRoundTrip: the compact form gives back exactly the
// selector it was made from, for both families, 4in6 addresses, ports
// and protocols, and the zero selector.
func TestSelectorRoundTrip(t *testing.T) {
	for _, ts := range []ipsec.TrafficSelector{
		{},
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("10.1.0.0/16"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("0.0.0.0/0"), 17, 500, 500),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8::/48"), 6, 80, 80),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("::ffff:10.0.0.0/120"), 0, 0, 65535),
		{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("10.0.0.3"), EndAddr: netip.MustParseAddr("10.0.0.9"), StartPort: 1, EndPort: 2},
	} {
		s, err := NewSelector(ts)
		if err != nil {
			t.Fatalf("NewSelector(%v): %v", ts, err)
		}
		if got := s.TS(); !reflect.DeepEqual(got, ts) {
			t.Errorf("NewSelector(%v).TS() = %v", ts, got)
		}
		if s.IsZero() != (ts.Type == 0) {
			t.Errorf("%v: IsZero %v", ts, s.IsZero())
		}
	}
}

// TestSelectorRefusesOthers: what is not a configured address range is
// refused rather than changed.
func TestSelectorRefusesOthers(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	for _, ts := range []ipsec.TrafficSelector{
		{Type: 10, Data: []byte{1, 2}},
		{Type: ipsec.TSIPv4AddrRange, StartAddr: v6, EndAddr: v6},
		{Type: ipsec.TSIPv6AddrRange, StartAddr: v4, EndAddr: v4},
		{Type: ipsec.TSIPv6AddrRange, StartAddr: v6.WithZone("eth0"), EndAddr: v6},
		{Type: ipsec.TSIPv4AddrRange, StartAddr: v4},
	} {
		if _, err := NewSelector(ts); err == nil {
			t.Errorf("NewSelector(%v) accepted", ts)
		}
	}
}

// TestSecurityPolicySize: four policies fit the 448-byte allocation
// class (a VPN's Policies, one per configured VPN).
func TestSecurityPolicySize(t *testing.T) {
	if n := 4 * unsafe.Sizeof(SecurityPolicy{}); n > 448 {
		t.Errorf("four SecurityPolicy are %d bytes, want at most 448", n)
	}
}
