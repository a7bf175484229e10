package gateway

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
)

// vrfPeerOnly is an address only the peer of vrf cust holds, inside the
// protected network both vrfs share (10.2.0.0/24): traffic to it
// crosses cust's tunnel and never main's.
var vrfPeerOnly = netip.MustParseAddr("10.2.0.2")

// vrfPSK is the pre-shared key of the VPN in vrf cust: not main's, so a
// negotiation that crossed vrfs would fail.
const vrfPSK = "gateway-vrf-secret-9876543210"

// vrfSide creates, for the vrf namespace v, the same outer and inner
// addresses as the topology's gateway side, a veth pair to the peer's
// namespace p (whose inner network also holds vrfPeerOnly). It is the
// vSR's picture: the same addresses in two vrfs.
func vrfSide(t *testing.T, v, p string) {
	t.Helper()
	// Every handle on v is closed on return: the test must not keep the
	// namespace alive once it is deleted.
	nv, err := netns.GetFromName(v)
	if err != nil {
		t.Fatal(err)
	}
	defer nv.Close()
	np := mustNS(t, p)
	h, err := netnsutil.Handle(nv)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netnsutil.LinkUp(h, "lo"); err != nil {
		t.Fatal(err)
	}
	if err := netnsutil.Veth(nv, np, "veth-gw", "veth-charon", netip.PrefixFrom(gwOuter, 24), netip.PrefixFrom(charonOuter, 24)); err != nil {
		t.Fatal(err)
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = netnsutil.AddAddr(h, lo, netip.PrefixFrom(gwInner4, 32))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// newVRFNS creates the named namespace of a vrf without keeping a
// handle on it (so that deleting its name destroys it once secgwd lets
// go); t.Cleanup deletes the name if it is still there.
func newVRFNS(t *testing.T, name string) {
	t.Helper()
	ns, err := netnsutil.NewNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	t.Cleanup(func() { _ = netnsutil.DeleteNamed(name) })
}

// mustNS opens the named namespace; t.Cleanup closes the handle.
func mustNS(t *testing.T, name string) netns.NsHandle {
	t.Helper()
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("gateway: namespace %s: %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// configureIn commits CLI lines under "/ vrf VRF ike".
func (g *gateway) configureIn(t *testing.T, vrf string, lines ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("edit running\n")
	for _, l := range lines {
		b.WriteString("/ vrf " + vrf + " ike " + l + "\n")
	}
	b.WriteString("commit\n")
	out := g.mustCLI(t, b.String())
	if strings.Contains(strings.ToLower(out), "error") {
		t.Fatalf("gateway: configuring secgwd:\n%s\n%s", b.String(), out)
	}
}

// TestVRFs: one secgwd runs vrf main (its own namespace) and
// vrf cust (a named namespace, ip netns style), each with a VPN of the
// same name to its own charon, over the same outer addresses and the
// same inner networks. Each vrf's IKE instance negotiates with its own
// peer (another PSK in cust); traffic in each vrf goes through its own
// tunnel only (an address only cust's peer holds answers from cust and
// not from main); `show ike ike-sa vrf cust` shows cust's SA; deleting
// cust's namespace takes its tunnel down (main's stays), and recreating
// it brings it back (start-action start) without a commit.
func TestVRFs(t *testing.T) {
	requirePrerequisites(t)
	top := newTopology(t)
	// A vrf name has at most 15 characters (secgw-vrf.yang).
	cust, peer := netnstest.Name("sgv", topoSeq.Add(1)), top.gw+"p"
	newVRFNS(t, cust)
	netnstest.NewNamed(t, peer)
	vrfSide(t, cust, peer)
	hp := netnstest.Handle(t, mustNS(t, peer))
	netnstest.LoAddr(t, hp, netip.PrefixFrom(charonIn4, 32))
	netnstest.LoAddr(t, hp, netip.PrefixFrom(vrfPeerOnly, 32))

	gw := startGateway(t, top.gw)
	ch, ch2 := startCharon(t, top.charon), startCharon(t, peer)
	ch.Load(t, swanctlConf(suiteGCM, testPSK, charonChildren(policy4)...))
	ch2.Load(t, swanctlConf(suiteGCM, vrfPSK, charonChildren(policy4)...))
	gw.configure(t, ourVPN(ourVPNName, suiteGCM, testPSK, policy4)...)
	gw.configureIn(t, cust, append(ourVPN(ourVPNName, suiteGCM, vrfPSK, policy4),
		"vpn "+ourVPNName+" ipsec-policy start-action start")...)

	gw.mustCLI(t, "", "cmd", "ike", "initiate", "child-sa", "security-policy", policy4.name)
	custUp := func() bool {
		out, err := gw.cli("", "show", "ike", "ike-sa", "vrf", cust)
		return err == nil && strings.Contains(out, " established ")
	}
	if !eventually(15*time.Second, custUp) {
		out, _ := gw.cli("", "show", "ike", "ike-sa", "vrf", cust)
		t.Fatalf("vrf %s: no IKE SA (start-action start):\n%s\n%s", cust, out, grepVRF(gw.readLog()))
	}
	// Each vrf reaches its own peer only.
	ping(t, top.gw, gwInner4, charonIn4)
	ping(t, cust, gwInner4, charonIn4)
	ping(t, cust, gwInner4, vrfPeerOnly)
	ping(t, peer, vrfPeerOnly, gwInner4)
	pingFails(t, top.gw, gwInner4, vrfPeerOnly)
	if len(ch.listSAs(t)) != 1 || len(ch2.listSAs(t)) != 1 {
		t.Fatalf("charons hold %d and %d IKE SAs, want 1 each", len(ch.listSAs(t)), len(ch2.listSAs(t)))
	}

	// cust's namespace goes: its tunnel goes down, main's stays.
	if err := netnsutil.DeleteNamed(cust); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool {
		out, err := gw.cli("", "show", "ike", "ike-sa", "vrf", cust)
		return err == nil && !strings.Contains(out, " established ")
	}) {
		out, _ := gw.cli("", "show", "ike", "ike-sa", "vrf", cust)
		t.Fatalf("vrf %s's SA outlived its namespace:\n%s", cust, out)
	}
	ping(t, top.gw, gwInner4, charonIn4)

	// The kernel destroys the old namespace, and the veth pair with it,
	// once secgwd let go of it (and asynchronously).
	if !eventually(10*time.Second, func() bool {
		_, err := hp.LinkByName("veth-charon")
		return err != nil
	}) {
		t.Fatalf("the veth of vrf %s's deleted namespace is still in the peer's: secgwd still holds the namespace", cust)
	}
	// It comes back: so does cust's tunnel.
	newVRFNS(t, cust)
	vrfSide(t, cust, peer)
	if !eventually(20*time.Second, custUp) {
		out, _ := gw.cli("", "show", "ike", "ike-sa", "vrf", cust)
		t.Fatalf("vrf %s: no IKE SA after its namespace came back:\n%s", cust, out)
	}
	ping(t, cust, gwInner4, vrfPeerOnly)
	pingFails(t, top.gw, gwInner4, vrfPeerOnly)
}

// grepVRF keeps the lines of a secgwd log that name a vrf other than
// main (the failure messages of TestVRFs).
func grepVRF(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "vrf=") && !strings.Contains(l, "vrf=main") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
