package ipsec

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRangePrefixes(t *testing.T) {
	cases := map[[2]string]string{
		{"10.0.0.0", "10.0.0.255"}:                           "10.0.0.0/24",
		{"0.0.0.0", "255.255.255.255"}:                       "0.0.0.0/0",
		{"10.0.0.1", "10.0.0.1"}:                             "10.0.0.1/32",
		{"10.9.0.1", "10.9.0.6"}:                             "10.9.0.1/32 10.9.0.2/31 10.9.0.4/31 10.9.0.6/32",
		{"255.255.255.254", "255.255.255.255"}:               "255.255.255.254/31",
		{"10.0.0.0", "10.0.2.0"}:                             "10.0.0.0/23 10.0.2.0/32",
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}:    "::/0",
		{"2001:db8::", "2001:db8::ffff:ffff:ffff:ffff:ffff"}: "2001:db8::/48",
		{"2001:db8::ffff", "2001:db8::1:0"}:                  "2001:db8::ffff/128 2001:db8::1:0/128",
		{"fe80::", "fe80::8000:0:0:0"}:                       "fe80::/65 fe80::8000:0:0:0/128",
	}
	for r, want := range cases {
		var got []string
		for _, p := range RangePrefixes(netip.MustParseAddr(r[0]), netip.MustParseAddr(r[1])) {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s-%s: %v, want %s", r[0], r[1], got, want)
		}
	}
}

// FuzzRangePrefixes checks the cover is exact, ordered and contiguous.
func FuzzRangePrefixes(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1}, []byte{10, 0, 3, 7})
	f.Add([]byte{0, 0, 0, 0}, []byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) != 4 || len(b) != 4 {
			return
		}
		s, e := netip.AddrFrom4([4]byte(a)), netip.AddrFrom4([4]byte(b))
		if e.Less(s) {
			s, e = e, s
		}
		ps := RangePrefixes(s, e)
		if len(ps) > 62 {
			t.Fatalf("%d prefixes for %s-%s", len(ps), s, e)
		}
		next := s
		for i, p := range ps {
			if p.Addr() != next || p.Masked() != p {
				t.Fatalf("%s-%s: prefix %d is %s, expected it at %s", s, e, i, p, next)
			}
			last := LastAddr(p)
			if i == len(ps)-1 {
				if last != e {
					t.Fatalf("%s-%s ends at %s", s, e, last)
				}
				return
			}
			next = last.Next()
		}
	})
}
