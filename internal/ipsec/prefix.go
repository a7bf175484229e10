package ipsec

import (
	"errors"
	"math/bits"
	"net/netip"
)

// Prefixes turns the selector's address range (RFC 7296 §3.13.1) into the
// fewest prefixes that cover it exactly: kernel and userspace selectors
// and routes are prefixes, and an IKE peer may narrow to any range.
func (ts TrafficSelector) Prefixes() ([]netip.Prefix, error) {
	switch ts.Type {
	case TSIPv4AddrRange:
		if !ts.StartAddr.Is4() || !ts.EndAddr.Is4() {
			return nil, errors.New("wire: IPv4 traffic selector without IPv4 addresses")
		}
	case TSIPv6AddrRange:
		if !ts.StartAddr.Is6() || !ts.EndAddr.Is6() {
			return nil, errors.New("wire: IPv6 traffic selector without IPv6 addresses")
		}
	default:
		return nil, errors.New("wire: traffic selector type is not an address range")
	}
	if ts.EndAddr.Less(ts.StartAddr) {
		return nil, errors.New("wire: traffic selector ends before it starts")
	}
	return RangePrefixes(ts.StartAddr, ts.EndAddr), nil
}

// u128 is an address as a number.
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	b := a.As16()
	var u u128
	for i := 0; i < 8; i++ {
		u.hi = u.hi<<8 | uint64(b[i])
		u.lo = u.lo<<8 | uint64(b[8+i])
	}
	if a.Is4() {
		u.hi, u.lo = 0, u.lo&0xffffffff
	}
	return u
}

func fromU128(u u128, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{byte(u.lo >> 24), byte(u.lo >> 16), byte(u.lo >> 8), byte(u.lo)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(u.hi >> (8 * i))
		b[15-i] = byte(u.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func (u u128) sub(v u128) u128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return u128{hi, lo}
}

func (u u128) add(v u128) (u128, bool) {
	lo, carry := bits.Add64(u.lo, v.lo, 0)
	hi, carry := bits.Add64(u.hi, v.hi, carry)
	return u128{hi, lo}, carry != 0
}

// trailingZeros counts trailing zero bits, at most width.
func (u u128) trailingZeros(width int) int {
	n := 128
	if u.lo != 0 {
		n = bits.TrailingZeros64(u.lo)
	} else if u.hi != 0 {
		n = 64 + bits.TrailingZeros64(u.hi)
	}
	return min(n, width)
}

// bitLen is the number of bits needed to hold u.
func (u u128) bitLen() int {
	if u.hi != 0 {
		return 64 + bits.Len64(u.hi)
	}
	return bits.Len64(u.lo)
}

func pow2(n int) u128 {
	if n >= 64 {
		return u128{hi: 1 << (n - 64)}
	}
	return u128{lo: 1 << n}
}

// RangePrefixes returns the minimal set of prefixes covering start..end
// (same family, start <= end).
func RangePrefixes(start, end netip.Addr) []netip.Prefix {
	v4 := start.Is4()
	width := 128
	if v4 {
		width = 32
	}
	s, e := toU128(start), toU128(end)
	var out []netip.Prefix
	for {
		// The largest block of 2^h addresses that starts at s (aligned)
		// and ends at or before e (2^h <= e-s+1).
		diff := e.sub(s)
		h := s.trailingZeros(width)
		if n, carry := diff.add(u128{lo: 1}); !carry {
			h = min(h, n.bitLen()-1)
		}
		out = append(out, netip.PrefixFrom(fromU128(s, v4), width-h))
		if h == 128 || diff == pow2(h).sub(u128{lo: 1}) {
			return out
		}
		s, _ = s.add(pow2(h))
	}
}
