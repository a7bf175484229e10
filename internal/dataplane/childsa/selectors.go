package childsa

import (
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"

	"secgw/internal/dataplane"
)

// tsPrefixes is ipsec.TrafficSelector.Prefixes with the package's error
// prefix.
func tsPrefixes(ts ipsec.TrafficSelector) ([]netip.Prefix, error) {
	ps, err := ts.Prefixes()
	if err != nil {
		return nil, fmt.Errorf("dataplane: %w", err)
	}
	return ps, nil
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
