package ikesvc

import (
	"net/netip"
	"slices"
	"testing"

	"secgw/internal/ike/udpconn"
)

// TestMOBIKEAddrs: the addresses MOBIKE advertises are the specific
// IKE-bound ones that are not draining and, once the daemon said which
// addresses the host has, still on the host (RFC 4555 §3.6).
func TestMOBIKEAddrs(t *testing.T) {
	a1, a2, a3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("203.0.113.1")
	s := &Service{conn: newSwitchConn()}
	for _, a := range []netip.Addr{a3, a1, a2, netip.IPv4Unspecified()} {
		s.conn.conns[a] = &udpconn.Conn{}
	}
	s.conn.draining[a3] = true
	if got := s.mobikeAddrs(); !slices.Equal(got, []netip.Addr{a1, a2}) {
		t.Errorf("host unknown: %v, want [%v %v]", got, a1, a2)
	}
	s.SetHostAddrs([]netip.Addr{a2, a3})
	if got := s.mobikeAddrs(); !slices.Equal(got, []netip.Addr{a2}) {
		t.Errorf("host has %v %v: %v, want [%v]", a2, a3, got, a2)
	}
	s.SetHostAddrs([]netip.Addr{})
	if got := s.mobikeAddrs(); len(got) != 0 {
		t.Errorf("host without addresses: %v", got)
	}
}
