// Package pool hands out virtual IP addresses to remote-access peers (the
// ike pool and ha pool lists of the models, RFC 7296 §3.15, §2.19):
// leases by IKE identity, so that a peer gets the same address again when
// it reconnects, kept in an append log under the data directory so that
// a restart keeps them.
//
// An address is leased to an identity and held by its IKE SAs (Acquire
// and Release count them). When the last one goes, the lease stays
// reserved for that identity: the pool gives out addresses never leased
// first, and only when none is left takes back the reserved lease
// released the longest ago. So a peer that comes back finds its address
// unless the pool ran short meanwhile.
//
// The package imports nothing of secgw: the IKE service resolves the
// configuration into Config values and the engine reaches the pools
// through its own VIPs interface.
package pool

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// Range is one item of a pool's address list: the addresses First..Last,
// both included, of one family.
type Range struct {
	First, Last netip.Addr
}

// ParseAddress parses one address item of a pool (secgw-types
// pool-address): a single address, a range FIRST-LAST, or a subnet
// ADDRESS/LENGTH. An IPv4 subnet of 30 bits or less excludes its network
// and broadcast addresses, an IPv6 subnet its Subnet-Router anycast
// address (RFC 4291 §2.6.1): no peer should get those.
func ParseAddress(s string) (Range, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(first)
		b, err2 := netip.ParseAddr(last)
		if err1 != nil || err2 != nil || a.Zone() != "" || b.Zone() != "" {
			return Range{}, fmt.Errorf("pool: bad address range %q", s)
		}
		if a.Is4() != b.Is4() || b.Less(a) {
			return Range{}, fmt.Errorf("pool: range %q must go up within one address family", s)
		}
		return Range{a, b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Range{}, fmt.Errorf("pool: bad subnet %q", s)
		}
		p = p.Masked()
		first, last := p.Addr(), lastOf(p)
		switch {
		case first.Is4() && p.Bits() <= 30:
			first, last = first.Next(), last.Prev()
		case first.Is6() && p.Bits() < 128:
			first = first.Next()
		}
		return Range{first, last}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return Range{}, fmt.Errorf("pool: bad address %q", s)
	}
	return Range{a, a}, nil
}

// lastOf returns the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Contains reports whether a is in the range.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is4() == r.First.Is4() && !a.Less(r.First) && !r.Last.Less(a)
}

// Size is the number of addresses of the range, capped at MaxUint64.
func (r Range) Size() uint64 {
	f, l := r.First.As16(), r.Last.As16()
	hi := be64(l[:8]) - be64(f[:8])
	lo := be64(l[8:]) - be64(f[8:])
	if be64(l[8:]) < be64(f[8:]) {
		hi--
	}
	if hi != 0 || lo == math.MaxUint64 {
		return math.MaxUint64
	}
	return lo + 1
}

func be64(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// Attributes are the configuration attributes a pool gives with its
// addresses (RFC 7296 §3.15.1): INTERNAL_IP4/6_DNS, _NBNS, _DHCP,
// _SUBNET and INTERNAL_IP4_NETMASK.
type Attributes struct {
	DNS, NBNS, DHCP []netip.Addr
	Subnets         []netip.Prefix
	Netmasks        []netip.Addr
}

// Config is one pool as configured: an ike pool, or an ha pool (HA set)
// whose leases the HA subsystem synchronizes through the manager's
// hooks.
type Config struct {
	Name   string
	HA     bool
	Ranges []Range
	Attributes
}

// equalRanges reports whether a and b hold the same ranges in order.
func equalRanges(a, b []Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
