package daemon

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/poll"
	"secgw/internal/schema"
)

// trapPolicies renders the XFRM policies of h whose selector names
// 10.2.0.0/24, "dir dst if_id N" each, sorted.
func trapPolicies(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	ps, err := h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		if p.Dst.String() == "10.2.0.0/24" || p.Src.String() == "10.2.0.0/24" {
			out = append(out, fmt.Sprintf("%s %s->%s if_id %d", p.Dir, p.Src, p.Dst, p.Ifid))
		}
	}
	slices.Sort(out)
	return out
}

// TestVRFKernelDataplane: with main on the kernel dataplane, the IKE
// instance of another vrf programs XFRM in that vrf's namespace, through
// netlink sockets opened there: a VPN of the vrf with start-action trap
// and svti-id-in/out 100 (accepted: the kernel has XFRM interfaces) gets
// its trap policy there, bound to if_id 100, and none in the namespace
// secgwd runs in. The namespace deleted, the instance closes; recreated,
// the instance opens again and installs the trap in the new namespace.
// The vrf removed from the configuration, the trap leaves the namespace.
// (The host's kernel has no ESP: the SAs themselves are proven under
// qemu, test/kernel.)
func TestVRFKernelDataplane(t *testing.T) {
	netnstest.RequireRoot(t)
	name := netnstest.Name("vkk", 1)
	topo := func() *netlink.Handle {
		ns, err := netnsutil.NewNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		peer := netnstest.NewNS(t)
		netnstest.Veth(t, ns, peer, "vkk0", "vkk1", netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("192.0.2.2/24"))
		if err := netnsutil.LinkUp(netnstest.Handle(t, ns), "lo"); err != nil {
			t.Fatal(err)
		}
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return h
	}
	h := topo()
	t.Cleanup(func() { _ = netnsutil.DeleteNamed(name) })

	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	dev := &generated.Device{}
	p := "/ vrf " + name + " ike vpn v1 "
	configtest.Apply(t, s, dev,
		p+"ike-policy pre-shared-key vk-secret-1",
		p+"local-address 192.0.2.1 remote-address 192.0.2.2",
		p+"ipsec-policy start-action trap",
		p+"security-policy sp1 local-ts subnet 10.1.0.0/24",
		p+"security-policy sp1 remote-ts subnet 10.2.0.0/24",
		p+"security-policy sp1 svti-id-in 100",
		p+"security-policy sp1 svti-id-out 100")
	d := &Daemon{cfg: Config{Dir: t.TempDir(), Dataplane: DataplaneKernel, IKEPort: 17920, NATTPort: 17921,
		Logger: slog.New(slog.NewTextHandler(testLog{t, "vk"}, &slog.HandlerOptions{Level: slog.LevelInfo}))}, kernel: true}
	v := newVRFs(d, NetnsDir)
	v.start(dev)
	defer v.close()

	want := []string{"dir out 10.1.0.0/24->10.2.0.0/24 if_id 100"}
	var got []string
	if !poll.Until(5*time.Second, func() bool { got = trapPolicies(t, h); return slices.Equal(got, want) }) {
		t.Fatalf("vrf %s's namespace has policies %q, want %q", name, got, want)
	}
	v.mu.Lock()
	kind := v.inst[name].dp.Kind()
	v.mu.Unlock()
	if kind != DataplaneKernel {
		t.Errorf("vrf %s runs the %s dataplane, want kernel", name, kind)
	}
	host, err := netlink.NewHandle(unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if got := trapPolicies(t, host); len(got) != 0 {
		t.Errorf("secgwd's own namespace got the vrf's policies: %q", got)
	}

	// ip netns del: the instance closes.
	if err := netnsutil.DeleteNamed(name); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(5*time.Second, func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.inst[name] == nil && v.missing[name]
	}) {
		t.Fatal("the vrf's instance outlived its namespace")
	}
	// ip netns add again: a new namespace, the trap comes back in it.
	h = topo()
	if !poll.Until(5*time.Second, func() bool { got = trapPolicies(t, h); return slices.Equal(got, want) }) {
		t.Fatalf("vrf %s's new namespace has policies %q, want %q", name, got, want)
	}

	// The vrf leaves the configuration, its namespace stays: what its
	// instance installed there goes with the instance.
	v.mu.Lock()
	v.running = &generated.Device{}
	v.reconcile()
	v.mu.Unlock()
	if got := trapPolicies(t, h); len(got) != 0 {
		t.Errorf("vrf %s removed from the configuration: its namespace keeps policies %q", name, got)
	}
}
