package gateway

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"secgw/internal/netnsutil/netnstest"
)

// The HA pair's topology: two secgwd nodes and charon on one
// WAN segment (a bridge in a hub namespace), the service address gwOuter
// held by the active node (the test moves it, standing in for keepalived),
// and a dedicated sync link between the nodes.
//
//	                 [hub: bridge br-wan]
//	           /              |               \
//	node 1 192.0.2.11   node 2 192.0.2.12   charon 192.0.2.2
//	  + 192.0.2.1, the service address, on the active node
//	node 1 10.9.0.1 ------- sync ------- 10.9.0.2 node 2
//
// Both nodes hold the protected host 10.1.0.1 on loopback: charon's ping
// from 10.2.0.1 is answered by whichever node is active. Neither sets
// ip_nonlocal_bind: secgwd binds the standby's IKE sockets to the service
// address before it arrives with IP_FREEBIND.
var (
	haNode1WAN = netip.MustParseAddr("192.0.2.11")
	haNode2WAN = netip.MustParseAddr("192.0.2.12")
	haSync1    = netip.MustParseAddr("10.9.0.1")
	haSync2    = netip.MustParseAddr("10.9.0.2")
)

const (
	haSecret = "ha-pair-secret-0123456789abcdef"
	// haOSeqShift is oseq-shift: far above what the test sends between
	// two syncs.
	haOSeqShift = 100000
)

// haTopology is the namespaces of the pair.
type haTopology struct{ node1, node2, charon, hub string }

func newHATopology(t *testing.T) *haTopology {
	t.Helper()
	id := netnstest.Name(nsPrefix, topoSeq.Add(1))
	top := &haTopology{node1: id + "-h1", node2: id + "-h2", charon: id + "-hc", hub: id + "-hw"}
	n1, n2 := netnstest.NewNamed(t, top.node1), netnstest.NewNamed(t, top.node2)
	netnstest.NewNamed(t, top.charon)
	netnstest.NewNamed(t, top.hub)
	run(t, "ip", "-n", top.hub, "link", "add", "br-wan", "type", "bridge")
	run(t, "ip", "-n", top.hub, "link", "set", "br-wan", "up")
	for i, s := range []struct {
		ns   string
		addr netip.Addr
	}{{top.node1, haNode1WAN}, {top.node2, haNode2WAN}, {top.charon, charonOuter}} {
		port := fmt.Sprintf("p%d", i)
		run(t, "ip", "-n", top.hub, "link", "add", port, "type", "veth", "peer", "name", "wan", "netns", s.ns)
		run(t, "ip", "-n", top.hub, "link", "set", port, "master", "br-wan", "up")
		run(t, "ip", "-n", s.ns, "addr", "add", s.addr.String()+"/24", "dev", "wan")
		run(t, "ip", "-n", s.ns, "link", "set", "wan", "up")
	}
	netnstest.Veth(t, n1, n2, "sync", "sync", netip.PrefixFrom(haSync1, 24), netip.PrefixFrom(haSync2, 24))
	for _, ns := range []string{top.node1, top.node2} {
		run(t, "ip", "-n", ns, "addr", "add", gwInner4.String()+"/32", "dev", "lo")
	}
	run(t, "ip", "-n", top.charon, "addr", "add", charonIn4.String()+"/32", "dev", "lo")
	return top
}

// moveServiceAddress puts gwOuter on to's WAN link, off from's, and makes
// charon forget the old link-layer address (keepalived's gratuitous ARP).
func (top *haTopology) moveServiceAddress(t *testing.T, from, to string) {
	t.Helper()
	if from != "" {
		run(t, "ip", "-n", from, "addr", "del", gwOuter.String()+"/24", "dev", "wan")
	}
	run(t, "ip", "-n", to, "addr", "add", gwOuter.String()+"/24", "dev", "wan")
	run(t, "ip", "-n", top.charon, "neigh", "flush", "dev", "wan")
}

// haConfig is node id's HA configuration in CLI lines (under "/ vrf
// main").
func haConfig(id int) []string {
	local, remote := haSync1, haSync2
	if id == 2 {
		local, remote = remote, local
	}
	return []string{
		"vrrp group g-wan instance vrrp0 notify-ha-group ha-group1",
		fmt.Sprintf("ike ha listen-ha-group ha-group1 node-id %d local-address %s remote-address %s secret %s", id, local, remote, haSecret),
		fmt.Sprintf("ike ha seqnum-sync oseq-shift %d sync-period-time 1s", haOSeqShift),
	}
}

// configureVRF commits CLI lines under "/ vrf main".
func (g *gateway) configureVRF(t *testing.T, lines ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("edit running\n")
	for _, l := range lines {
		b.WriteString("/ vrf main " + l + "\n")
	}
	b.WriteString("commit\n")
	out := g.mustCLI(t, b.String())
	if strings.Contains(strings.ToLower(out), "error") {
		t.Fatalf("gateway: configuring secgwd:\n%s\n%s", b.String(), out)
	}
}

// haNotify runs the ha-notify RPC, as keepalived's notify script does.
func (g *gateway) haNotify(t *testing.T, group, state string) {
	t.Helper()
	g.rpc(t, `<ha-notify xmlns="urn:secgw:yang:secgw-ha"><group>`+group+`</group><state>`+state+`</state></ha-notify>`)
}

// haState is `show ike ha`.
func (g *gateway) haState(t *testing.T) string {
	t.Helper()
	return g.mustCLI(t, "", "show", "ike", "ha")
}

// waitHA waits until `show ike ha` holds every line given.
func (g *gateway) waitHA(t *testing.T, what string, want ...string) {
	t.Helper()
	var out string
	if !eventually(20*time.Second, func() bool {
		out = g.haState(t)
		for _, w := range want {
			if !strings.Contains(out, w) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("gateway: %s: show ike ha in %s:\n%s\nwant %q", what, g.ns, out, want)
	}
}

// startPair starts secgwd on both nodes, the service address on node 1,
// has configure configure each (node 1 or 2), and makes node 1 active and
// node 2 standby by ha-notify once their sync link is up.
func (top *haTopology) startPair(t *testing.T, configure func(g *gateway, node int)) (n1, n2 *gateway) {
	t.Helper()
	top.moveServiceAddress(t, "", top.node1)
	n1, n2 = startGateway(t, top.node1), startGateway(t, top.node2)
	for i, g := range []*gateway{n1, n2} {
		configure(g, i+1)
	}
	n1.waitHA(t, "sync link up", "Role:             init", "Peer link:        up")
	n1.haNotify(t, "g-wan", "master")
	n2.haNotify(t, "g-wan", "backup")
	n1.waitHA(t, "node 1 active", "Role:             active", "Peer role:        standby")
	n2.waitHA(t, "node 2 standby", "Role:             standby", "Peer role:        active")
	return n1, n2
}

// charonSPIs is what charon holds: the IKE SA's SPIs and the child SAs'.
func charonSPIs(t *testing.T, ch *charon) string {
	t.Helper()
	views := viewsFromCharon(ch.listSAs(t))
	if len(views) != 1 {
		t.Fatalf("gateway: charon holds %d IKE SAs, want 1: %v", len(views), views)
	}
	v := views[0]
	s := fmt.Sprintf("IKE %s_i %s_r %s", v.SPIi, v.SPIr, v.State)
	for _, c := range v.Children {
		s += fmt.Sprintf(", child %s in %s out %s %s", c.Name, c.SPIIn, c.SPIOut, c.State)
	}
	return s
}

// TestHAFailover: an HA pair of secgwd (userspace dataplane) and a charon
// peer. Node 1 is made active and node 2 standby by ha-notify over
// NETCONF; charon establishes its tunnel to the service address on node
// 1, which syncs it to node 2 (show ike ha: 1 IKE SA, 1 child SA synced).
// Node 1 is killed (SIGKILL), the service address moves to node 2, and
// ha-notify master makes node 2 take over: charon keeps its IKE SA and
// child SPIs (no renegotiation), traffic through the tunnel resumes, and
// charon drops no ESP packet as a replay (node 2's outbound numbers
// start oseq-shift above the last synced ones). Node 1 then restarts from
// empty as standby and node 2 resyncs it, the tunnel untouched.
func TestHAFailover(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	top := newHATopology(t)
	n1, n2 := top.startPair(t, func(g *gateway, node int) {
		g.configure(t, ourVPN(ourVPNName, suiteGCM, testPSK, policy4)...)
		g.configureVRF(t, haConfig(node)...)
	})
	ch := startCharon(t, top.charon)

	ch.Load(t, swanctlConf(suiteGCM, testPSK, charonChildren(policy4)...))
	ch.initiate(t, policy4.name)
	ping(t, top.charon, charonIn4, gwInner4)
	before := charonSPIs(t, ch)
	// The standby holds the SA, and the numbers of its ESP SAs after
	// the next sync-period-time.
	n2.waitHA(t, "synced", "IKE SAs synced:   1", "Child SAs synced: 1")
	ping(t, top.charon, charonIn4, gwInner4)
	time.Sleep(2 * time.Second) // two sync-period-time: the last numbers reach node 2

	n1.kill(t)
	top.moveServiceAddress(t, top.node1, top.node2)
	n2.haNotify(t, "g-wan", "master")
	n2.waitHA(t, "node 2 active", "Role:             active", "Peer link:        down")

	if !eventually(10*time.Second, func() bool {
		_, err := runErr("ip", "netns", "exec", top.charon, "ping", "-n", "-q", "-c", "1", "-W", "1",
			"-I", charonIn4.String(), gwInner4.String())
		return err == nil
	}) {
		t.Fatalf("gateway: no traffic through the tunnel after the takeover\nshow ike ha:\n%s\nnode 2 SAs:\n%s",
			n2.haState(t), n2.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
	}
	ping(t, top.charon, charonIn4, gwInner4)
	if after := charonSPIs(t, ch); after != before {
		t.Errorf("gateway: charon renegotiated at the takeover:\nbefore %s\nafter  %s", before, after)
	}
	// libipsec logs each ESP packet its replay window refuses (level 1
	// of group esp, which charontest's default level includes).
	if log := ch.ReadLog(); strings.Contains(log, "ESP sequence number verification failed") {
		t.Errorf("gateway: charon dropped ESP as a replay:\n%s", tail(log, 30))
	}
	// node 2 serves the SA: it shows it established.
	if out := n2.mustCLI(t, "", "show", "ike", "ike-sa"); !strings.Contains(out, "established") {
		t.Errorf("gateway: node 2's IKE SAs after the takeover:\n%s", out)
	}

	// Node 1 comes back from empty, as standby: node 2 resyncs it while
	// it keeps serving.
	n1 = startGateway(t, top.node1)
	n1.configure(t, ourVPN(ourVPNName, suiteGCM, testPSK, policy4)...)
	n1.configureVRF(t, haConfig(1)...)
	n1.haNotify(t, "g-wan", "backup")
	n1.waitHA(t, "node 1 resynced", "Role:             standby", "Peer role:        active",
		"IKE SAs synced:   1", "Child SAs synced: 1")
	n2.waitHA(t, "node 2 sees its standby", "Role:             active", "Peer role:        standby")
	ping(t, top.charon, charonIn4, gwInner4)
	if after := charonSPIs(t, ch); after != before {
		t.Errorf("gateway: charon renegotiated during the resync:\nbefore %s\nafter  %s", before, after)
	}
}
