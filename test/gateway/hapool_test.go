package gateway

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"secgw/internal/netnsutil/netnstest"
	"secgw/test/charontest"
)

// HA pools end to end: the HA pair of ha_test.go as the
// concentrator of charon road warriors (vips = 0.0.0.0), each in its own
// namespace on the WAN bridge, asking the service address for an address
// of the HA pool hp.

// haPoolLines configure the road warriors' VPN on both nodes: the HA
// pool hp of three addresses, any identity with the PSK.
var haPoolLines = []string{
	"ike ha pool hp address 10.8.0.1-10.8.0.3",
	"ike vpn rw local-address " + gwOuter.String(),
	"ike vpn rw local-id " + gwID,
	"ike vpn rw ike-policy pre-shared-key " + testPSK,
	"ike vpn rw ike-policy ike-proposal 1 " + suiteGCM.ourIKE,
	"ike vpn rw ipsec-policy esp-proposal 1 " + suiteGCM.ourESP,
	"ike vpn rw vip-pool hp",
	"ike vpn rw security-policy net local-ts subnet " + gwNet4,
}

// haRoadWarrior starts charon road warrior i (rwI.example at 192.0.2.2I)
// on the pair's WAN bridge, with a connection "rw" to the service
// address.
func haRoadWarrior(t *testing.T, top *haTopology, i int) *roadWarrior {
	t.Helper()
	r := &roadWarrior{ns: fmt.Sprintf("%s-r%d", top.hub, i), id: fmt.Sprintf("rw%d.example", i), n: i,
		addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(20 + i)}), gw: gwOuter}
	netnstest.NewNamed(t, r.ns)
	port := fmt.Sprintf("r%d", i)
	run(t, "ip", "-n", top.hub, "link", "add", port, "type", "veth", "peer", "name", "wan", "netns", r.ns)
	run(t, "ip", "-n", top.hub, "link", "set", port, "master", "br-wan", "up")
	run(t, "ip", "-n", r.ns, "addr", "add", r.addr.String()+"/24", "dev", "wan")
	run(t, "ip", "-n", r.ns, "link", "set", "wan", "up")
	r.Charon = charontest.Start(t, r.ns, charontest.Options{})
	r.loadPSK(t, r.id, testPSK)
	return r
}

// TestHAPoolFailover: rw1 and rw2 connect to the active node 1 and get
// two addresses of the HA pool; rw1 disconnects (its address stays
// reserved for it). Node 2, standby, shows both leases (`show ike pool
// hp`). Node 1 is killed and node 2 takes over: rw2 keeps its address and
// tunnel (same SPIs, traffic), rw3, new, gets the pool's third address,
// not one of the two already leased, and rw1 gets its reservation back.
func TestHAPoolFailover(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	top := newHATopology(t)
	n1, n2 := top.startPair(t, func(g *gateway, node int) {
		g.configureVRF(t, append(haConfig(node), haPoolLines...)...)
	})
	var rws []*roadWarrior
	for i := 1; i <= 3; i++ {
		rws = append(rws, haRoadWarrior(t, top, i))
	}

	vip1 := rws[0].connect(t)
	vip2 := rws[1].connect(t)
	ping(t, rws[1].ns, vip2, gwInner4)
	before := charonSPIs(t, &charon{rws[1].Charon})
	rws[0].disconnect(t)
	if !eventually(20*time.Second, func() bool {
		out := n2.mustCLI(t, "", "show", "ike", "pool", "hp")
		return strings.Contains(out, vip1.String()+" rw1.example reserved") && strings.Contains(out, vip2.String()+" rw2.example reserved")
	}) {
		t.Fatalf("node 2 lacks the leases of %s (rw1) and %s (rw2):\n%s", vip1, vip2, n2.mustCLI(t, "", "show", "ike", "pool", "hp"))
	}
	n2.waitHA(t, "synced", "IKE SAs synced:   1")

	n1.kill(t)
	top.moveServiceAddress(t, top.node1, top.node2)
	for _, r := range rws {
		run(t, "ip", "-n", r.ns, "neigh", "flush", "dev", "wan")
	}
	n2.haNotify(t, "g-wan", "master")
	n2.waitHA(t, "node 2 active", "Role:             active")

	// rw2's tunnel goes on through node 2, with its address.
	if !eventually(10*time.Second, func() bool {
		_, err := runErr("ip", "netns", "exec", rws[1].ns, "ping", "-n", "-q", "-c", "1", "-W", "1", "-I", vip2.String(), gwInner4.String())
		return err == nil
	}) {
		t.Fatalf("rw2: no traffic after the takeover\n%s", n2.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
	}
	if after := charonSPIs(t, &charon{rws[1].Charon}); after != before {
		t.Errorf("rw2 renegotiated at the takeover:\nbefore %s\nafter  %s", before, after)
	}
	vip3 := rws[2].connect(t)
	if vip3 == vip1 || vip3 == vip2 {
		t.Fatalf("rw3 got %s from the new active: already leased (rw1 %s, rw2 %s)", vip3, vip1, vip2)
	}
	ping(t, rws[2].ns, vip3, gwInner4)
	t.Logf("rw1 %s (reserved at the takeover), rw2 %s (taken over), rw3 %s (new)", vip1, vip2, vip3)
	if got := rws[0].connect(t); got != vip1 {
		t.Errorf("rw1 got %s from the new active, want its reservation %s", got, vip1)
	}
	out := n2.mustCLI(t, "", "show", "ike", "pool", "hp")
	for _, w := range []string{vip1.String() + " rw1.example held by 1 IKE SA", vip2.String() + " rw2.example held by 1 IKE SA",
		vip3.String() + " rw3.example held by 1 IKE SA"} {
		if !strings.Contains(out, w) {
			t.Errorf("node 2's show ike pool hp lacks %q:\n%s", w, out)
		}
	}
}
