package gateway

import (
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"secgw/internal/netnsutil/netnstest"
)

// A three-namespace topology for TCP encapsulation: the initiator A and
// the responder B are routed through a middle namespace whose nftables
// drop UDP ports 500 and 4500, as a hotel network that blocks IPsec.
//
//	10.1.0.1 [A] 192.0.2.1 --- 192.0.2.254 [mid] 198.51.100.254 --- 198.51.100.2 [B] 10.2.0.1
var (
	tcpA    = netip.MustParseAddr("192.0.2.1")
	tcpMidA = netip.MustParseAddr("192.0.2.254")
	tcpMidB = netip.MustParseAddr("198.51.100.254")
	tcpB    = netip.MustParseAddr("198.51.100.2")
)

type tcpTopology struct{ a, mid, b string }

func newTCPTopology(t *testing.T) *tcpTopology {
	t.Helper()
	id := netnstest.Name(nsPrefix, topoSeq.Add(1))
	top := &tcpTopology{a: id + "-a", mid: id + "-m", b: id + "-b"}
	a, mid, b := netnstest.NewNamed(t, top.a), netnstest.NewNamed(t, top.mid), netnstest.NewNamed(t, top.b)
	netnstest.Veth(t, a, mid, "veth-a", "veth-ma", netip.PrefixFrom(tcpA, 24), netip.PrefixFrom(tcpMidA, 24))
	netnstest.Veth(t, mid, b, "veth-mb", "veth-b", netip.PrefixFrom(tcpMidB, 24), netip.PrefixFrom(tcpB, 24))
	netnstest.LoAddr(t, netnstest.Handle(t, a), netip.PrefixFrom(gwInner4, 32))
	netnstest.LoAddr(t, netnstest.Handle(t, b), netip.PrefixFrom(charonIn4, 32))
	run(t, "ip", "-n", top.a, "route", "add", "default", "via", tcpMidA.String())
	run(t, "ip", "-n", top.b, "route", "add", "default", "via", tcpMidB.String())
	run(t, "ip", "netns", "exec", top.mid, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "netns", "exec", top.mid, "nft", "add", "table", "inet", "secgwtest")
	run(t, "ip", "netns", "exec", top.mid, "nft", "add chain inet secgwtest block { type filter hook forward priority 0; }")
	run(t, "ip", "netns", "exec", top.mid, "nft", "add rule inet secgwtest block udp dport { 500, 4500 } counter drop")
	return top
}

// udpDropped returns the packets the middle namespace dropped.
func (top *tcpTopology) udpDropped(t *testing.T) int {
	t.Helper()
	m := regexp.MustCompile(`counter packets (\d+)`).FindStringSubmatch(run(t, "ip", "netns", "exec", top.mid, "nft", "list", "table", "inet", "secgwtest"))
	if m == nil {
		t.Fatal("no nftables counter in the middle namespace")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// tcpVPN is the VPN of one side, with the given extra ike-policy lines.
func tcpVPN(local, remote netip.Addr, localID, remoteID, localNet, remoteNet string, extra ...string) []string {
	p := "vpn tcp "
	return append([]string{
		p + "local-address " + local.String() + " remote-address " + remote.String(),
		p + "local-id " + localID + " remote-id " + remoteID,
		p + "ike-policy pre-shared-key " + testPSK,
		p + "security-policy " + policy4.name + " local-ts subnet " + localNet,
		p + "security-policy " + policy4.name + " remote-ts subnet " + remoteNet,
	}, extra...)
}

// pingUntil pings until an echo request is answered or d passes.
func pingUntil(ns string, src, dst netip.Addr, d time.Duration) bool {
	return eventually(d, func() bool {
		_, err := runErr("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", "1", "-I", src.String(), dst.String())
		return err == nil
	})
}

// TestTCPEncapSecgwd: two secgwd with the userspace dataplane, UDP 500
// and 4500 dropped between them. A's VPN has transport udp-then-tcp: its
// IKE_SA_INIT over UDP goes unanswered, A falls back to TCP (RFC 9329) to
// B's listen-tcp port, and ping and TCP pass through the tunnel, whose ESP
// goes over the stream. The stream is then killed on A (ss -K): A, the
// stream's initiator, reconnects, B takes the new stream in place of the
// old, and traffic resumes on the same SAs. Deleting the VPN closes the
// stream.
func TestTCPEncapSecgwd(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("gateway: nft missing: the middle namespace blocks UDP with nftables (apt-get install nftables, or test/install-deps.sh)")
	}
	top := newTCPTopology(t)
	a := startGateway(t, top.a)
	b := startGateway(t, top.b)
	b.configure(t, append(tcpVPN(tcpB, tcpA, charonID, gwID, charonNet4, gwNet4), "global-options listen-tcp true")...)
	a.configure(t, append(tcpVPN(tcpA, tcpB, gwID, charonID, gwNet4, charonNet4, "vpn tcp ike-policy transport udp-then-tcp"),
		"global-options retransmit-tries 1", "global-options retransmit-timeout 0.5")...)

	// The first packet hits A's trap policy: IKE over UDP, dropped, then TCP.
	if !pingUntil(top.a, gwInner4, charonIn4, 30*time.Second) {
		t.Fatalf("no traffic through the tunnel over TCP\nA: %s\nB: %s", tail(a.readLog(), 30), tail(b.readLog(), 30))
	}
	if !strings.Contains(a.readLog(), "IKE_SA_INIT over UDP unanswered: trying TCP") {
		t.Errorf("A did not fall back from UDP to TCP:\n%s", tail(a.readLog(), 30))
	}
	if !strings.Contains(b.readLog(), "TCP stream accepted") {
		t.Errorf("B accepted no TCP stream:\n%s", tail(b.readLog(), 30))
	}
	if n := top.udpDropped(t); n == 0 {
		t.Error("the middle namespace dropped no UDP: the test does not block IKE over UDP")
	}
	ping(t, top.a, gwInner4, charonIn4)
	ping(t, top.b, charonIn4, gwInner4)
	tcpEcho(t, top.a, gwInner4, top.b, charonIn4)
	before := spis(a.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
	if before == "" {
		t.Fatalf("A shows no child SA:\n%s", a.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
	}
	dropped := top.udpDropped(t)

	// The network kills the stream under A.
	run(t, "ip", "netns", "exec", top.a, "ss", "-K", "dst", tcpB.String(), "dport", "=", "4500")
	if !eventually(10*time.Second, func() bool {
		return strings.Contains(a.readLog(), "TCP stream lost, reconnecting") &&
			strings.Count(b.readLog(), "TCP stream accepted") >= 2
	}) {
		t.Fatalf("A did not reconnect the stream\nA: %s\nB: %s", tail(a.readLog(), 30), tail(b.readLog(), 30))
	}
	if !pingUntil(top.b, charonIn4, gwInner4, 10*time.Second) {
		t.Fatal("no traffic after the reconnection")
	}
	ping(t, top.a, gwInner4, charonIn4)
	if after := spis(a.mustCLI(t, "", "show", "ike", "ike-sa", "details")); after != before {
		t.Errorf("the SAs changed with the reconnection:\nbefore %s\nafter  %s", before, after)
	}
	if n := top.udpDropped(t); n != dropped {
		t.Errorf("traffic went to UDP after the reconnection: %d more packets dropped", n-dropped)
	}

	// The stream lives with its IKE SA.
	a.configure(t, "vpn tcp enabled false")
	if !eventually(10*time.Second, func() bool {
		return strings.Contains(a.readLog(), "TCP stream closed: no IKE SA uses it")
	}) {
		t.Errorf("A kept the stream of a deleted IKE SA:\n%s", tail(a.readLog(), 20))
	}
}
