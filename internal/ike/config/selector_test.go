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
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("192.0.2.7/32"), 1, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("128.0.0.0/1"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("::/0"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("8000::/1"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8:0:1::/63"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8:0:1::/64"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8:0:1:8000::/65"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8::fffe/127"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8::1/128"), 0, 0, 65535),
		ipsec.SelectorFromPrefix(netip.MustParsePrefix("::ffff:0.0.0.0/96"), 0, 0, 65535),
		{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("10.0.0.8"), EndAddr: netip.MustParseAddr("10.0.0.15"), StartPort: 1, EndPort: 2},
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

// TestSelectorRefusesOthers: what is not a configured address range (a
// prefix) is refused rather than changed.
func TestSelectorRefusesOthers(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	for _, ts := range []ipsec.TrafficSelector{
		{Type: 10, Data: []byte{1, 2}},
		{Type: ipsec.TSIPv4AddrRange, StartAddr: v6, EndAddr: v6},
		{Type: ipsec.TSIPv6AddrRange, StartAddr: v4, EndAddr: v4},
		{Type: ipsec.TSIPv6AddrRange, StartAddr: v6.WithZone("eth0"), EndAddr: v6},
		{Type: ipsec.TSIPv4AddrRange, StartAddr: v4},
		{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("10.0.0.3"), EndAddr: netip.MustParseAddr("10.0.0.9")},
		{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("10.0.0.8"), EndAddr: netip.MustParseAddr("10.0.0.14")},
		{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("10.0.0.9"), EndAddr: netip.MustParseAddr("10.0.0.8")},
		{Type: ipsec.TSIPv6AddrRange, StartAddr: netip.MustParseAddr("2001:db8::1"), EndAddr: netip.MustParseAddr("2001:db8::2")},
		{Type: ipsec.TSIPv6AddrRange, StartAddr: netip.MustParseAddr("::"), EndAddr: netip.MustParseAddr("7fff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")},
	} {
		if _, err := NewSelector(ts); err == nil {
			t.Errorf("NewSelector(%v) accepted", ts)
		}
	}
}

// TestSecurityPolicySize: four policies fit the 320-byte allocation
// class (a VPN's Policies, one per configured VPN).
func TestSecurityPolicySize(t *testing.T) {
	if n := 4 * unsafe.Sizeof(SecurityPolicy{}); n > 320 {
		t.Errorf("four SecurityPolicy are %d bytes, want at most 320", n)
	}
}

// TestSelectorEveryPrefixLength: a prefix of every length of both
// families comes back as the range it was made from; with four addresses
// or more, the range one address shorter at either end is no prefix, and
// is refused.
func TestSelectorEveryPrefixLength(t *testing.T) {
	for _, base := range []string{"203.0.113.77", "2001:db8:a5a5:5a5a:ffff:1:8000:7fff"} {
		a := netip.MustParseAddr(base)
		for b := 0; b <= a.BitLen(); b++ {
			ts := ipsec.SelectorFromPrefix(netip.PrefixFrom(a, b), 0, 0, 65535)
			s, err := NewSelector(ts)
			if err != nil {
				t.Fatalf("/%d %v: %v", b, ts, err)
			}
			if got := s.TS(); !reflect.DeepEqual(got, ts) {
				t.Fatalf("/%d: %v gives back %v", b, ts, got)
			}
			if b > a.BitLen()-2 {
				continue
			}
			for _, bad := range []ipsec.TrafficSelector{
				{Type: ts.Type, StartAddr: ts.StartAddr, EndAddr: ts.EndAddr.Prev(), EndPort: 65535},
				{Type: ts.Type, StartAddr: ts.StartAddr.Next(), EndAddr: ts.EndAddr, EndPort: 65535},
			} {
				if _, err := NewSelector(bad); err == nil {
					t.Errorf("/%d: %v accepted", b, bad)
				}
			}
		}
	}
}
