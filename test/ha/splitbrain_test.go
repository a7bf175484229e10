package ha

import (
	"slices"
	"strings"
	"testing"
	"time"

	"secgw/test/hatest"
)

// TestSyncLinkLossAndSplitBrain is the split-brain rule (with the link up node
// 1 stays active; without it each node obeys VRRP) on the pair with
// the peer's SAs up:
//
//   - the sync link goes down: both nodes see it (peer-connected false)
//     and keep their roles, traffic flows through the active;
//   - without the link, the active's LAN link goes down: each node obeys
//     its VRRP group, node 2 takes over from what it synced last (shifted
//     sequence numbers: the old active sent far fewer than oseq-shift
//     packets since), and the peer sees no renegotiation and no replay;
//   - the link comes back: the new active resyncs the standby;
//   - split brain: the standby is told MASTER by hand while the link is
//     up: node-id 1 stays active, node 2 goes back to standby, and the
//     state counts it.
func TestSyncLinkLossAndSplitBrain(t *testing.T) {
	r := newRig(t)
	n1, n2 := r.p.Nodes[0], r.p.Nodes[1]
	hatest.IP(t, n1.NS, "link set sync01 down")
	for _, n := range r.p.Nodes {
		if s, ok := n.WaitState(10*time.Second, func(s hatest.HAState) bool { return !s.PeerConnected }); !ok {
			t.Fatalf("ha: node %d still sees its peer without the sync link: %+v", n.ID, s)
		}
	}
	r.waitRoles(t, 0)
	r.checkSites(t)

	r.failover(t, "LAN link of the active down, sync link down", 0, func(t *testing.T) {
		hatest.IP(t, n1.NS, "link set lan down")
	}, func(t *testing.T) {
		hatest.IP(t, n1.NS, "link set lan up")
		hatest.LANRoutes(t, n1.NS)
		if got, ok := n1.KA.WaitState("BACKUP", 5*time.Second); !ok || got.RC != "0" {
			t.Fatalf("ha: node 1 not back as backup: %q", got.Line)
		}
		hatest.IP(t, n1.NS, "link set sync01 up")
	})

	// Split brain: node 1, the standby now, told MASTER while node 2 is
	// active and the link is up. Node-id 1 wins: node 2 goes standby.
	spis, _ := hatest.PeerSPIs(r.peer)
	out, err := n1.Secgw("ha-notify", "--group", hatest.Group, "--state", "master")
	if err != nil {
		t.Fatalf("ha: secgw ha-notify on node 1: %v\n%s", err, out)
	}
	r.waitRoles(t, 0)
	var brains uint64
	for _, n := range r.p.Nodes {
		s, _ := n.State()
		brains += s.SplitBrains
	}
	if brains == 0 {
		t.Errorf("ha: neither node counted the split brain")
	}
	if !strings.Contains(n2.Logs()+n1.Logs(), "split") {
		t.Errorf("ha: no log line about the split brain")
	}
	// The outcome is defined, not harmless: node 2 holds the VIPs but is
	// standby; the SAs themselves are untouched.
	if now, err := hatest.PeerSPIs(r.peer); err != nil || !slices.Equal(now, spis) {
		t.Errorf("ha: the split brain changed charon's SAs:\n%s\n%s", strings.Join(spis, "\n"), strings.Join(now, "\n"))
	}
}
