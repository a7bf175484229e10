package loadtest

import (
	"net/netip"
	"slices"
	"testing"
)

func TestParseAddrs(t *testing.T) {
	for _, tc := range []struct {
		spec        string
		first, last string
		n           int
	}{
		{"10.98.1.1", "10.98.1.1", "10.98.1.1", 1},
		{"10.98.1.1-10.98.1.250", "10.98.1.1", "10.98.1.250", 250},
		{"10.98.1.250-10.98.2.5", "10.98.1.250", "10.98.2.5", 12},
		{"10.98.1.0/24", "10.98.1.1", "10.98.1.254", 254},
		{"10.98.1.0/31", "10.98.1.0", "10.98.1.1", 2},
		{"fd00::1-fd00::3, 10.0.0.1", "fd00::1", "10.0.0.1", 4},
		{"fd00::/126", "fd00::", "fd00::3", 4},
	} {
		got, err := ParseAddrs(tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if len(got) != tc.n || got[0].String() != tc.first || got[len(got)-1].String() != tc.last {
			t.Errorf("%q: %d addresses %v..%v, want %d %s..%s", tc.spec, len(got), got[0], got[len(got)-1], tc.n, tc.first, tc.last)
		}
	}
	for _, bad := range []string{"", "10.0.0.300", "10.0.0.5-10.0.0.1", "10.0.0.1-fd00::1", "10.0.0.0/33", "10.0.0.0/8"} {
		if _, err := ParseAddrs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestAddrAdd(t *testing.T) {
	for _, tc := range []struct {
		a    string
		n    uint64
		want string
	}{
		{"10.200.0.0", 1, "10.200.0.1"},
		{"10.200.0.255", 1, "10.200.1.0"},
		{"10.200.0.0", 65535, "10.200.255.255"},
		{"fd00::ffff", 1, "fd00::1:0"},
	} {
		if got := AddrAdd(netip.MustParseAddr(tc.a), tc.n); got.String() != tc.want {
			t.Errorf("%s + %d = %v, want %s", tc.a, tc.n, got, tc.want)
		}
	}
}

// TestInnerAddr: tunnel i gets host address i+1 of the prefix and the
// numbering wraps without the network address.
func TestInnerAddr(t *testing.T) {
	p := Profile{Inner: netip.MustParsePrefix("10.200.0.0/30")}
	var got []string
	for i := range 5 {
		got = append(got, p.innerAddr(i).String())
	}
	want := []string{"10.200.0.1", "10.200.0.2", "10.200.0.3", "10.200.0.1", "10.200.0.2"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
