package daemon

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"secgw/internal/netnsutil/netnstest"
)

// TestVIPHost: a virtual IP received goes, as a /32, on the interface of
// the IKE SA's local address by default and on install-vip-on when set;
// two IKE SAs holding the same address add it once and the last to go
// removes it.
func TestVIPHost(t *testing.T) {
	a, b := netnstest.NewNS(t), netnstest.NewNS(t)
	local := netip.MustParseAddr("192.0.2.1")
	netnstest.Veth(t, a, b, "veth-a", "veth-b", netip.PrefixFrom(local, 24), netip.MustParsePrefix("192.0.2.2/24"))
	has := func(dev, addr string) bool {
		var out bool
		netnstest.In(t, a, func() error {
			l, err := netlink.LinkByName(dev)
			if err != nil {
				return err
			}
			as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
			for _, x := range as {
				out = out || x.IPNet.String() == addr
			}
			return err
		})
		return out
	}
	h := newVIPHost(slog.New(slog.DiscardHandler))
	vip, vip2 := netip.MustParseAddr("10.8.0.1"), netip.MustParseAddr("10.8.0.2")
	netnstest.In(t, a, func() error {
		if err := h.AddVIP("", local, vip); err != nil {
			return err
		}
		if err := h.AddVIP("", local, vip); err != nil { // a second IKE SA with it
			return err
		}
		return h.AddVIP("lo", local, vip2)
	})
	if !has("veth-a", "10.8.0.1/32") || !has("lo", "10.8.0.2/32") {
		t.Fatal("the virtual IPs are not on the interface of the local address and on install-vip-on")
	}
	netnstest.In(t, a, func() error { h.RemoveVIP("", local, vip); return nil })
	if !has("veth-a", "10.8.0.1/32") {
		t.Fatal("the virtual IP went with the first of its two IKE SAs")
	}
	netnstest.In(t, a, func() error { h.RemoveVIP("", local, vip); h.RemoveVIP("lo", local, vip2); return nil })
	if has("veth-a", "10.8.0.1/32") || has("lo", "10.8.0.2/32") {
		t.Fatal("the virtual IPs stayed after their IKE SAs went")
	}
	var err error
	netnstest.In(t, a, func() error { err = h.AddVIP("", netip.MustParseAddr("203.0.113.9"), vip); return nil })
	if err == nil || !strings.Contains(err.Error(), "no interface holds the local address") {
		t.Fatalf("a local address no interface holds: %v", err)
	}
}
