package daemon

import (
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/schema"
)

// TestVRFInstanceHost: the instance of vrf cust (its namespace exists)
// runs a configuration with a pool, which it keeps in its own lease file
// (not main's); the virtual IPs it receives go on an interface of its
// namespace, not of the daemon's; and its DPD reads the traffic times of
// its own dataplane (dpd-mode optimized probes after outbound traffic).
func TestVRFInstanceHost(t *testing.T) {
	netnstest.RequireRoot(t)
	name := netnstest.Name("vrfopsh", 1)
	ns := netnstest.NewNamed(t, name)
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	dev := &generated.Device{}
	p := "/ vrf " + name + " ike "
	configtest.Apply(t, s, dev, p+"pool p address 10.8.0.0/30", p+"vpn rw local-id a.example", p+"vpn rw vip-pool p",
		p+"vpn rw security-policy sp local-ts subnet 10.1.0.0/16")
	dir := t.TempDir()
	d := &Daemon{cfg: Config{Dataplane: DataplaneFake, Dir: dir, Logger: slog.New(slog.DiscardHandler)}}
	v := newVRFs(d, NetnsDir)
	v.start(dev)
	t.Cleanup(v.close)
	v.mu.Lock()
	in := v.inst[name]
	v.mu.Unlock()
	if in == nil {
		t.Fatalf("vrf %s runs no instance", name)
	}
	if st := in.ike.State(false); st.PoolState["p"] == nil {
		t.Errorf("vrf %s's state shows pools %v, want p", name, st.PoolState)
	}
	if _, err := os.Stat(vrfLeaseFile(dir, name)); err != nil {
		t.Errorf("vrf %s's lease file: %v", name, err)
	}
	if _, err := os.Stat(dir + "/" + LeaseFile); err == nil {
		t.Errorf("vrf %s's pool wrote main's lease file %s", name, LeaseFile)
	}

	vip := netip.MustParseAddr("10.77.0.5")
	has := func(h *netlink.Handle) bool {
		lo, err := h.LinkByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		as, err := h.AddrList(lo, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.IP.Equal(vip.AsSlice()) {
				return true
			}
		}
		return false
	}
	h := netnstest.Handle(t, ns)
	if err := in.host.vips.AddVIP("lo", netip.Addr{}, vip); err != nil {
		t.Fatal(err)
	}
	if !has(h) || has(&netlink.Handle{}) {
		t.Errorf("virtual IP %s: in vrf %s's namespace %v, in the daemon's %v; want only the vrf's", vip, name, has(h), has(&netlink.Handle{}))
	}
	in.host.vips.RemoveVIP("lo", netip.Addr{}, vip)
	if has(h) {
		t.Errorf("virtual IP %s stays in vrf %s's namespace after its removal", vip, name)
	}

	c := engine.ChildSA{Local: netip.MustParseAddrPort("192.0.2.1:4500"), Remote: netip.MustParseAddrPort("192.0.2.2:4500"),
		InSPI: 0x100, OutSPI: 0x200}
	sent := time.Unix(1700000000, 0)
	fake := in.dp.(*dataplane.Fake)
	out := dataplane.SAKey{Dst: c.Remote.Addr(), SPI: c.OutSPI}
	fake.Edit(func(sas map[dataplane.SAKey]dataplane.SA, _ map[dataplane.PolicyKey]dataplane.Policy) {
		sas[out] = dataplane.SA{Dst: out.Dst, SPI: out.SPI}
	})
	fake.SetCounters(out, dataplane.Counters{LastUsed: sent})
	if _, out := activityOf(in.dp)(c); !out.Equal(sent) {
		t.Errorf("vrf %s's outbound activity %v, want %v from its dataplane", name, out, sent)
	}
}

// TestVRFHostNames: a vrf named . or .. (the model's pattern lets them
// through; /run/netns/.. is a directory, no namespace) opens no lease
// store: it would be another vrf's file.
func TestVRFHostNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".", ".."} {
		in := &vrfInstance{name: name}
		if err := in.openHost(dir, slog.New(slog.DiscardHandler)); err == nil {
			in.host.close()
			t.Errorf("vrf %q opened its host", name)
		}
	}
	if _, err := os.Stat(dir + "/" + LeaseFile); err == nil {
		t.Errorf("a vrf named .. wrote main's lease file")
	}
}
