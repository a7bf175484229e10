// Package hatest builds the HA concentrator reference topology
// (reference/6wind-vsecgw-ha-concentrator-10k.txt) in network namespaces
// for test/ha and test/benchha: two secgwd nodes sharing a WAN bridge
// with the remote peer and a LAN bridge with a LAN host, a dedicated sync
// link between them, and keepalived (Debian's, the real VRRP engine) in
// each node namespace moving the public and internal virtual addresses
// and telling secgwd its group's state through `secgw ha-notify`.
//
//	 peer ns                      switch ns                      LAN host ns
//	172.16-18.0.1 (lo)     br-wan            br-lan        172.26-29.0.1 (lo)
//	203.0.113.100 ──wan───┤     ├──────┐ ┌──┤     ├──lan── 192.168.1.250
//	                      │     │      │ │  │     │        172.32.0.250
//	                     node1 ns     node2 ns
//	wan 192.168.0.11 (+VIP 203.0.113.2)   wan 192.168.0.12
//	lan 192.168.1.11 (+VIP 172.32.0.1)    lan 192.168.1.12
//	sync 192.168.100.1/30 ─────────────── sync 192.168.100.2/30
//
// The addresses are the reference's, but for the public VIP: 250.0.0.2
// is in 240/4 (reserved), 203.0.113.2 (TEST-NET-3) takes its place. The
// peer sits on the VIP's subnet so that it reaches the VIP through the
// bridge by ARP, as the reference's uCPEs reach it through a router.
package hatest

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"secgw/internal/netnsutil/netnstest"
	"secgw/test/gwtest"
)

// Addresses of the topology.
var (
	PublicVIP   = netip.MustParseAddr("203.0.113.2")
	InternalVIP = netip.MustParseAddr("172.32.0.1")
	PeerWAN     = netip.MustParseAddr("203.0.113.100")
	LANHost     = netip.MustParseAddr("192.168.1.250")
	LANHostVIP  = netip.MustParseAddr("172.32.0.250")
)

// NodeAddrs are one node's addresses: WAN, LAN and sync link.
type NodeAddrs struct {
	WAN, LAN, Sync, SyncPeer netip.Addr
}

// Nodes are the two nodes' addresses, node-id 1 and 2.
var Nodes = [2]NodeAddrs{
	{netip.MustParseAddr("192.168.0.11"), netip.MustParseAddr("192.168.1.11"), netip.MustParseAddr("192.168.100.1"), netip.MustParseAddr("192.168.100.2")},
	{netip.MustParseAddr("192.168.0.12"), netip.MustParseAddr("192.168.1.12"), netip.MustParseAddr("192.168.100.2"), netip.MustParseAddr("192.168.100.1")},
}

// Site is a pair of protected subnets: the peer's (a uCPE's LAN) and the
// concentrator's (behind the LAN host), as the reference's security
// policies sp_vpnc1..4 pair them; Peer and Local are one host of each.
type Site struct {
	PeerNet, LocalNet netip.Prefix
	Peer, Local       netip.Addr
}

// Sites are the reference's four security policies.
var Sites = [4]Site{
	site(16, 26), site(17, 27), site(18, 28), site(19, 29),
}

func site(peer, local byte) Site {
	return Site{
		PeerNet: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, peer, 0, 0}), 24), LocalNet: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, local, 0, 0}), 24),
		Peer: netip.AddrFrom4([4]byte{172, peer, 0, 1}), Local: netip.AddrFrom4([4]byte{172, local, 0, 1}),
	}
}

// NSPrefix starts the name of every namespace: NSPrefix<pid>-<seq>-X.
const NSPrefix = "secgw-ha-"

var topoSeq atomic.Uint32

// Topology is the namespaces of one test: Peer (charon or the load
// generator), Node[0] and Node[1] (secgwd and keepalived), LAN (the host
// behind the concentrator) and Switch (the two bridges).
type Topology struct {
	Peer, LAN, Switch string
	Node              [2]string
}

// SweepStale deletes the namespaces of test binaries that died without
// their cleanups.
func SweepStale() { netnstest.SweepStale(NSPrefix) }

// New builds the topology; the namespaces (and everything in them) go
// when the test ends, after the cleanups registered later.
func New(t testing.TB) *Topology {
	t.Helper()
	id := netnstest.Name(NSPrefix, topoSeq.Add(1))
	top := &Topology{Peer: id + "-p", LAN: id + "-l", Switch: id + "-s", Node: [2]string{id + "-1", id + "-2"}}
	for _, ns := range []string{top.Switch, top.Peer, top.LAN, top.Node[0], top.Node[1]} {
		netnstest.NewNamed(t, ns)
	}
	sw := top.Switch
	IP(t, sw, "link add br-wan type bridge")
	IP(t, sw, "link add br-lan type bridge")
	// No STP and no forwarding delay: a port carries frames as soon as
	// it is up again (the LAN-link failover takes a port down and up).
	for _, br := range []string{"br-wan", "br-lan"} {
		IP(t, sw, "link set "+br+" type bridge stp_state 0 forward_delay 0")
		IP(t, sw, "link set "+br+" up")
	}
	// port links namespace ns's interface ifname to bridge br.
	port := func(ns, ifname, swname, br string) {
		IP(t, ns, fmt.Sprintf("link add %s type veth peer name %s netns %s", ifname, swname, sw))
		IP(t, sw, fmt.Sprintf("link set %s master %s up", swname, br))
		IP(t, ns, "link set "+ifname+" up")
	}
	port(top.Peer, "wan", "p-wan", "br-wan")
	IP(t, top.Peer, "addr add "+PeerWAN.String()+"/24 dev wan")
	for _, s := range Sites {
		IP(t, top.Peer, "addr add "+s.Peer.String()+"/32 dev lo")
	}
	port(top.LAN, "lan", "l-lan", "br-lan")
	IP(t, top.LAN, "addr add "+LANHost.String()+"/24 dev lan")
	IP(t, top.LAN, "addr add "+LANHostVIP.String()+"/24 dev lan")
	for _, s := range Sites {
		IP(t, top.LAN, "addr add "+s.Local.String()+"/32 dev lo")
	}
	// The LAN host answers the peer's sites through the internal VIP,
	// wherever it is (the reference's static routes, the other way).
	IP(t, top.LAN, "route add 172.16.0.0/14 via "+InternalVIP.String())
	for i, ns := range top.Node {
		a := Nodes[i]
		port(ns, "wan", fmt.Sprintf("n%d-wan", i+1), "br-wan")
		port(ns, "lan", fmt.Sprintf("n%d-lan", i+1), "br-lan")
		IP(t, ns, "addr add "+a.WAN.String()+"/24 dev wan")
		IP(t, ns, "addr add "+a.LAN.String()+"/24 dev lan")
		LANRoutes(t, ns)
		for _, kv := range [][2]string{
			{"net/ipv4/ip_forward", "1"},
			// No ip_nonlocal_bind: secgwd binds the public VIP's IKE
			// sockets on both nodes, whoever holds the VIP, with
			// IP_FREEBIND (examples/ha/README.md).
			{"net/ipv4/conf/all/rp_filter", "0"},
			{"net/ipv4/conf/default/rp_filter", "0"},
		} {
			sysctl(t, ns, kv[0], kv[1])
		}
	}
	IP(t, top.Node[0], fmt.Sprintf("link add sync01 type veth peer name sync01 netns %s", top.Node[1]))
	for i, ns := range top.Node {
		IP(t, ns, "addr add "+Nodes[i].Sync.String()+"/30 dev sync01")
		IP(t, ns, "link set sync01 up")
	}
	return top
}

// LANRoutes (re)installs a node's route to the concentrator's sites,
// behind the LAN host (the reference routes them via 172.32.0.250;
// through the LAN host's LAN address here, so that the standby, without
// the internal VIP's subnet, has the route too). Taking the LAN link
// down deletes it (the kernel flushes the routes of a link that goes
// down): a test that brings the link back up installs it again, as the
// node's network configuration would.
func LANRoutes(t testing.TB, ns string) {
	t.Helper()
	IP(t, ns, "route replace 172.24.0.0/13 via "+LANHost.String())
}

// IP runs `ip -n ns ARGS` (ARGS split on spaces) and fails the test on
// error.
func IP(t testing.TB, ns, args string) string {
	t.Helper()
	out, err := gwtest.Run("ip", append([]string{"-n", ns}, strings.Fields(args)...)...)
	if err != nil {
		t.Fatalf("hatest: ip -n %s %s: %v\n%s", ns, args, err, out)
	}
	return out
}

func sysctl(t testing.TB, ns, key, value string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", strings.ReplaceAll(key, "/", ".")+"="+value).CombinedOutput()
	if err != nil {
		t.Fatalf("hatest: sysctl %s=%s in %s: %v\n%s", key, value, ns, err, out)
	}
}

// HasAddr reports whether namespace ns holds address a.
func HasAddr(ns string, a netip.Addr) bool {
	out, err := gwtest.Run("ip", "-n", ns, "-br", "addr")
	return err == nil && strings.Contains(out, " "+a.String()+"/")
}

// runCmd runs a command with a bounded time (gwtest.Run).
func runCmd(name string, args ...string) (string, error) { return gwtest.Run(name, args...) }
