package daemon

import (
	"net/netip"
	"slices"
	"testing"
)

// fakePaths is a host with some addresses and, per destination, the
// source address its routing picks.
type fakePaths struct {
	addrs map[netip.Addr]bool
	src   map[netip.Addr]netip.Addr
}

func (f fakePaths) hasAddr(a netip.Addr) bool { return f.addrs[a] }

func (f fakePaths) list() []netip.Addr {
	var out []netip.Addr
	for a := range f.addrs {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func (f fakePaths) source(dst netip.Addr) (netip.Addr, bool) {
	s, ok := f.src[dst]
	return s, ok
}

// TestMovePath: the vsr guide's mobike-prefer-best-path. Without it an
// IKE SA moves only when its local address is gone (its path stopped
// working), to the source routing now picks; with it, also when routing
// picks another source while the current address still works (a
// cheaper path). No route: stay.
func TestMovePath(t *testing.T) {
	old, wifi, lte, gw := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("198.51.100.2"),
		netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("192.0.2.1")
	for _, c := range []struct {
		name   string
		host   fakePaths
		prefer bool
		want   netip.Addr
	}{
		{"same path", fakePaths{map[netip.Addr]bool{old: true}, map[netip.Addr]netip.Addr{gw: old}}, true, netip.Addr{}},
		{"address gone", fakePaths{map[netip.Addr]bool{wifi: true}, map[netip.Addr]netip.Addr{gw: wifi}}, false, wifi},
		{"address gone, prefer", fakePaths{map[netip.Addr]bool{wifi: true}, map[netip.Addr]netip.Addr{gw: wifi}}, true, wifi},
		{"cheaper path, current works", fakePaths{map[netip.Addr]bool{old: true, lte: true}, map[netip.Addr]netip.Addr{gw: lte}}, false, netip.Addr{}},
		{"cheaper path, prefer-best-path", fakePaths{map[netip.Addr]bool{old: true, lte: true}, map[netip.Addr]netip.Addr{gw: lte}}, true, lte},
		{"no route", fakePaths{map[netip.Addr]bool{}, map[netip.Addr]netip.Addr{}}, true, netip.Addr{}},
	} {
		got, ok := movePath(old, gw, c.host, c.prefer)
		if ok != c.want.IsValid() || got != c.want {
			t.Errorf("%s: move to %v (%v), want %v", c.name, got, ok, c.want)
		}
	}
}
