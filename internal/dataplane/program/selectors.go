package program

import (
	"errors"
	"math/bits"
	"net/netip"
	"secgw/internal/dataplane"

	"secgw/internal/ike/wire"
)

// tsPrefixes turns a traffic selector's address range (RFC 7296 §3.13.1)
// into the fewest prefixes that cover it exactly: kernel and userspace
// selectors are prefixes, and an IKE peer may narrow to any range.
func tsPrefixes(ts wire.TrafficSelector) ([]netip.Prefix, error) {
	switch ts.Type {
	case wire.TSIPv4AddrRange:
		if !ts.StartAddr.Is4() || !ts.EndAddr.Is4() {
			return nil, errors.New("dataplane: IPv4 traffic selector without IPv4 addresses")
		}
	case wire.TSIPv6AddrRange:
		if !ts.StartAddr.Is6() || !ts.EndAddr.Is6() {
			return nil, errors.New("dataplane: IPv6 traffic selector without IPv6 addresses")
		}
	default:
		return nil, errors.New("dataplane: traffic selector type is not an address range")
	}
	if ts.EndAddr.Less(ts.StartAddr) {
		return nil, errors.New("dataplane: traffic selector ends before it starts")
	}
	return rangePrefixes(ts.StartAddr, ts.EndAddr), nil
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

// rangePrefixes returns the minimal set of prefixes covering start..end
// (same family, start <= end).
func rangePrefixes(start, end netip.Addr) []netip.Prefix {
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

// portSelector turns a traffic selector's port range into a selector port:
// one port stays, anything else (all ports, or a range the kernel cannot
// express) becomes 0, any port. ICMP's type and code (RFC 7296 §3.13.1)
// are not ports: any.
func portSelector(proto uint8, start, end uint16) uint16 {
	if proto == 1 || proto == 58 || start != end {
		return 0
	}
	return start
}

// specificity ranks a selector: longer prefixes first, then a protocol,
// then ports. Higher is more specific.
func specificity(s dataplane.Selector) uint32 {
	n := uint32(s.Src.Bits()+s.Dst.Bits()) << 3
	if s.Proto != 0 {
		n |= 4
	}
	if s.SrcPort != 0 {
		n |= 2
	}
	if s.DstPort != 0 {
		n |= 1
	}
	return n
}

// AutoPriorityBase is the priority of the least specific computed policy
// (0.0.0.0/0 to 0.0.0.0/0, any protocol). Computed priorities lie in
// AutoPriorityBase-2055 .. AutoPriorityBase, above (losing to) every small
// configured priority, as with strongSwan's dynamic priorities.
const AutoPriorityBase = 1 << 18

// PolicyPriority returns the kernel priority (lower wins) of a policy on
// sel: the configured one when non-zero (security-policy priority), else
// AutoPriorityBase minus the selector's specificity, so that of two
// overlapping policies the narrower wins whatever the order they were
// installed in: (prefix length of source + destination) × 8, +4 with a
// protocol, +2 with a source port, +1 with a destination port. The in,
// fwd and out policies of a child get the same priority (the specificity
// of a selector and of its mirror are equal).
func PolicyPriority(sel dataplane.Selector, configured uint32) uint32 {
	if configured != 0 {
		return configured
	}
	return AutoPriorityBase - specificity(sel)
}
