package netnsutil_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
)

// TestNamedVeth: a named namespace is found by its name (as ip netns
// exec finds it), a veth pair joins it to an anonymous one with its
// addresses, a sysctl is written inside, and the thread that ran there
// is back in the test's namespace afterwards; the name goes with
// DeleteNamed.
func TestNamedVeth(t *testing.T) {
	name := fmt.Sprintf("secgw-netnsutil-%d", os.Getpid())
	a := netnstest.NewNamed(t, name)
	b := netnstest.NewNS(t)
	netnstest.Veth(t, a, b, "veth-a", "veth-b", netip.MustParsePrefix("10.66.0.1/24"), netip.MustParsePrefix("fd66::2/64"))
	netnstest.Sysctl(t, a, "net/ipv4/ip_forward", "1")
	var addrs []net.Addr
	netnstest.InNamed(t, name, func() error {
		i, err := net.InterfaceByName("veth-a")
		if err == nil {
			addrs, err = i.Addrs()
		}
		return err
	})
	if len(addrs) == 0 || addrs[0].String() != "10.66.0.1/24" {
		t.Errorf("veth-a in %s holds %v, want 10.66.0.1/24", name, addrs)
	}
	var fwd []byte
	netnstest.In(t, a, func() (err error) { fwd, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward"); return err })
	if string(fwd) != "1\n" {
		t.Errorf("ip_forward in %s is %q, want 1", name, fwd)
	}
	cur, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if cur.Equal(a) || cur.Equal(b) {
		t.Error("the test's thread stayed in a namespace it ran in")
	}
	if _, err := net.InterfaceByName("veth-a"); err == nil {
		t.Error("veth-a is in the test's own namespace")
	}
}

// TestDeleteNamed: after DeleteNamed the name is gone.
func TestDeleteNamed(t *testing.T) {
	netnstest.RequireRoot(t)
	name := fmt.Sprintf("secgw-netnsutil-del-%d", os.Getpid())
	ns, err := netnsutil.NewNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	if err := netnsutil.DeleteNamed(name); err != nil {
		t.Fatal(err)
	}
	if err := netnsutil.RunNamed(name, func() error { return nil }); err == nil {
		t.Errorf("namespace %s still found after DeleteNamed", name)
	}
}
