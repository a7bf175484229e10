package loadtest

import (
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"strings"
)

// maxAddrs bounds what ParseAddrs expands, against typos such as a /8.
const maxAddrs = 1 << 16

// ParseAddrs expands a comma-separated list of addresses: single
// addresses, ranges "10.98.1.1-10.98.1.250" (inclusive) and prefixes
// "10.98.1.0/24" (their host addresses: without the network and broadcast
// addresses of an IPv4 prefix shorter than /31).
func ParseAddrs(spec string) ([]netip.Addr, error) {
	var out []netip.Addr
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		first, last, err := addrSpan(item)
		if err != nil {
			return nil, err
		}
		for a := first; ; a = a.Next() {
			if len(out) >= maxAddrs {
				return nil, fmt.Errorf("loadtest: more than %d addresses in %q", maxAddrs, spec)
			}
			out = append(out, a)
			if a == last {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loadtest: no address in %q", spec)
	}
	return out, nil
}

// addrSpan returns the first and last address of one list item.
func addrSpan(item string) (first, last netip.Addr, err error) {
	if lo, hi, ok := strings.Cut(item, "-"); ok {
		first, err1 := netip.ParseAddr(strings.TrimSpace(lo))
		last, err2 := netip.ParseAddr(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || first.Is4() != last.Is4() || last.Less(first) {
			return first, last, fmt.Errorf("loadtest: bad address range %q", item)
		}
		return first, last, nil
	}
	if strings.Contains(item, "/") {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return first, last, fmt.Errorf("loadtest: bad prefix %q", item)
		}
		p = p.Masked()
		first, last = p.Addr(), ipsec.LastAddr(p)
		if first.Is4() && p.Bits() < 31 {
			first, last = first.Next(), last.Prev()
		}
		return first, last, nil
	}
	a, err := netip.ParseAddr(item)
	if err != nil {
		return first, last, fmt.Errorf("loadtest: bad address %q", item)
	}
	return a, a, nil
}
