// Package ts implements traffic selector narrowing (RFC 7296 §2.9).
package ts

import (
	"net/netip"
	"secgw/internal/ipsec"
)

// Intersect returns the traffic selector covering what both a and b cover
// (RFC 7296 §2.9), and false when they are disjoint or not both address
// range selectors of the same family. An IP protocol of zero means any.
func Intersect(a, b ipsec.TrafficSelector) (ipsec.TrafficSelector, bool) {
	if a.Type != b.Type || (a.Type != ipsec.TSIPv4AddrRange && a.Type != ipsec.TSIPv6AddrRange) {
		return ipsec.TrafficSelector{}, false
	}
	out := ipsec.TrafficSelector{Type: a.Type}
	switch {
	case a.IPProtocol == b.IPProtocol || b.IPProtocol == 0:
		out.IPProtocol = a.IPProtocol
	case a.IPProtocol == 0:
		out.IPProtocol = b.IPProtocol
	default:
		return ipsec.TrafficSelector{}, false
	}
	out.StartPort, out.EndPort = max(a.StartPort, b.StartPort), min(a.EndPort, b.EndPort)
	if out.StartPort > out.EndPort {
		return ipsec.TrafficSelector{}, false
	}
	out.StartAddr, out.EndAddr = maxAddr(a.StartAddr, b.StartAddr), minAddr(a.EndAddr, b.EndAddr)
	if !out.StartAddr.IsValid() || !out.EndAddr.IsValid() || out.EndAddr.Less(out.StartAddr) {
		return ipsec.TrafficSelector{}, false
	}
	return out, true
}

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return b
	}
	return a
}

func minAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return a
	}
	return b
}

// Narrow returns the intersections of every offered selector with every
// allowed one, without duplicates: the responder's reply to the initiator's
// TSi or TSr (RFC 7296 §2.9). An empty result means TS_UNACCEPTABLE.
func Narrow(offered, allowed []ipsec.TrafficSelector) []ipsec.TrafficSelector {
	var out []ipsec.TrafficSelector
	for _, o := range offered {
		for _, a := range allowed {
			x, ok := Intersect(o, a)
			if ok && !contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out
}

// Covers reports whether outer includes all of inner.
func Covers(outer, inner ipsec.TrafficSelector) bool {
	x, ok := Intersect(outer, inner)
	return ok && equal(x, inner)
}

// Subset reports whether every selector of got lies within one of offered:
// the initiator's check of the responder's narrowed selectors (RFC 7296
// §2.9: the responder may only narrow).
func Subset(got, offered []ipsec.TrafficSelector) bool {
	for _, g := range got {
		ok := false
		for _, o := range offered {
			if Covers(o, g) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func contains(ts []ipsec.TrafficSelector, x ipsec.TrafficSelector) bool {
	for _, t := range ts {
		if equal(t, x) {
			return true
		}
	}
	return false
}

func equal(a, b ipsec.TrafficSelector) bool {
	return a.Type == b.Type && a.IPProtocol == b.IPProtocol && a.StartPort == b.StartPort &&
		a.EndPort == b.EndPort && a.StartAddr == b.StartAddr && a.EndAddr == b.EndAddr
}
