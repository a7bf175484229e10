package ha

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"secgw/test/charontest"
	"secgw/test/gwtest"
	"secgw/test/hatest"
)

// rig is one test's pair with its peer and the SAs it negotiated.
type rig struct {
	p    *hatest.Pair
	peer *charontest.Charon
	spis hatest.SPIs // the peer's SAs once established
}

// newRig starts the pair (node 1 active, node 2 standby), the peer, and
// the peer's two IKE SAs and four child SAs through the public VIP; it
// waits until the standby holds them all.
func newRig(t *testing.T) *rig {
	t.Helper()
	requirePrerequisites(t)
	r := &rig{p: hatest.StartPair(t, secgwdBin, secgwBin, hatest.PairOptions{})}
	r.waitRoles(t, 0)
	r.peer = hatest.StartPeer(t, r.p.Top.Peer)
	hatest.InitiateAll(t, r.peer)
	spis, err := hatest.PeerSPIs(r.peer)
	if err != nil || !spis.Established() {
		t.Fatalf("ha: the peer's SAs through the VIP: %v\n%s", err, strings.Join(spis, "\n"))
	}
	r.spis = spis
	r.checkSites(t)
	r.waitSynced(t, 1)
	// The operator's view (examples/ha/README.md): secgw show ike ha.
	for i, want := range []string{`Role:\s+active\n`, `Role:\s+standby\n(.*\n)*IKE SAs synced:\s+2\nChild SAs synced:\s+4\n`} {
		out, err := r.p.Nodes[i].Secgw("show", "ike", "ha")
		if err != nil || !regexp.MustCompile(want).MatchString(out) || !regexp.MustCompile(`Peer link:\s+up\n`).MatchString(out) {
			t.Fatalf("ha: secgw show ike ha on node %d: %v\n%s", i+1, err, out)
		}
		t.Logf("ha: node %d: secgw show ike ha\n%s", i+1, out)
	}
	return r
}

// waitRoles waits until node active is active and the other standby.
func (r *rig) waitRoles(t *testing.T, active int) {
	t.Helper()
	for i, n := range r.p.Nodes {
		want := map[bool]string{true: "active", false: "standby"}[i == active]
		if s, ok := n.WaitState(5*time.Second, func(s hatest.HAState) bool { return s.Role == want }); !ok {
			t.Fatalf("ha: node %d is %q, want %s\n%s", n.ID, s.Role, want, s.Raw)
		}
	}
}

// waitSynced waits until node i (the standby) holds the peer's two IKE
// SAs and four child SAs, its sync link up.
func (r *rig) waitSynced(t *testing.T, i int) {
	t.Helper()
	n := r.p.Nodes[i]
	s, ok := n.WaitState(10*time.Second, func(s hatest.HAState) bool {
		return s.PeerConnected && s.IKESynced == 2 && s.ChildSynced == uint64(len(hatest.Sites))
	})
	if !ok {
		t.Fatalf("ha: node %d does not hold the 2 IKE SAs and %d child SAs: %+v", n.ID, len(hatest.Sites), s)
	}
}

// checkSites pings each site through its tunnel.
func (r *rig) checkSites(t *testing.T) {
	t.Helper()
	for i, s := range hatest.Sites {
		if n, out := gwtest.Ping(r.p.Top.Peer, s.Peer, s.Local, 3); n == 0 {
			t.Fatalf("ha: no traffic through site %d's tunnel (%v -> %v):\n%s", i+1, s.Peer, s.Local, out)
		}
	}
}

// failover runs one failover from node from to the other while a ping
// (100 ms) and an iperf3 TCP flow cross the tunnels: act causes it,
// restore brings the old active back as the standby. Each failover must
// leave charon's SAs as they were (same IKE and child SPIs: nothing
// renegotiated), charon must drop no ESP packet as a replay, the ping
// lose at most 9 echoes in a row (a gap under 1 s), and the TCP flow
// complete.
func (r *rig) failover(t *testing.T, what string, from int, act, restore func(t *testing.T)) {
	t.Helper()
	to := 1 - from
	site := hatest.Sites[0]
	ping, err := hatest.StartPing(r.p.Top.Peer, site.Peer, site.Local)
	if err != nil {
		t.Fatal(err)
	}
	flow := hatest.Sites[1]
	iperf, err := hatest.StartIperf(r.p.Top.LAN, flow.Local, r.p.Top.Peer, flow.Peer, "10M", 8*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	replays, icv := hatest.ReplayDrops(r.peer)
	inits := hatest.IKEInits(r.peer)
	start := time.Now()
	act(t)
	got, ok := r.p.Nodes[to].KA.WaitState("MASTER", 5*time.Second)
	if !ok || got.RC != "0" {
		t.Fatalf("ha: %s: node %d was not notified MASTER within 5 s (last %q)", what, to+1, got.Line)
	}
	notified := time.Since(start)
	s, ok := r.p.Nodes[to].WaitState(5*time.Second, func(s hatest.HAState) bool { return s.Role == "active" })
	if !ok {
		t.Fatalf("ha: %s: node %d did not become active: %+v", what, to+1, s)
	}
	active := time.Since(start)
	out, ierr := iperf.Wait()
	res := ping.Stop()
	t.Logf("ha: %s: node %d master after %v, active after %v; ping %v", what, to+1, notified.Round(time.Millisecond), active.Round(time.Millisecond), res)
	if ierr != nil {
		t.Errorf("ha: %s: the iperf3 TCP flow did not survive: %v\n%s", what, ierr, out)
	}
	if res.Received == 0 || res.MaxGap > hatest.MaxLost {
		t.Errorf("ha: %s: the ping lost %d echoes in a row (at most %d: a gap under 1 s): %v", what, res.MaxGap, hatest.MaxLost, res)
	}
	spis, err := hatest.PeerSPIs(r.peer)
	if err != nil || !slices.Equal(spis, r.spis) {
		t.Errorf("ha: %s: charon's SAs changed (renegotiated):\nbefore:\n%s\nafter:\n%s (%v)", what, strings.Join(r.spis, "\n"), strings.Join(spis, "\n"), err)
	}
	if n := hatest.IKEInits(r.peer); n != inits {
		t.Errorf("ha: %s: charon initiated %d IKE SAs during the failover", what, n-inits)
	}
	if rp, ic := hatest.ReplayDrops(r.peer); rp != replays || ic != icv {
		t.Errorf("ha: %s: charon dropped %d ESP packets as replays and %d failing their ICV", what, rp-replays, ic-icv)
	}
	r.checkSites(t)
	if t.Failed() {
		for _, n := range r.p.Nodes {
			t.Logf("ha: node %d's HA log:\n%s", n.ID, haLines(n.Logs()))
		}
		t.FailNow()
	}
	restore(t)
	r.waitRoles(t, to)
	r.waitSynced(t, from)
}

// TestFailover is the reference's failover and two more, in a row on one
// pair with the peer's SAs and traffic up: keepalived stopped on the
// active (node 1; then started again), the active's LAN link down (node
// 2; then up again), SIGKILL of the active secgwd (node 1; then started
// again from empty: it catches up from the new active while that one
// serves). The order makes node 1 the one killed: the node-id the
// split-brain rule favours (node 1 stays active) dies while its peer
// last saw it active, and node 2 must take over all the same.
func TestFailover(t *testing.T) {
	r := newRig(t)
	n1, n2 := r.p.Nodes[0], r.p.Nodes[1]
	r.failover(t, "keepalived stopped on the active", 0, func(t *testing.T) {
		n1.KA.Terminate()
	}, func(t *testing.T) {
		n1.KA.Stop()
		if err := n1.KA.Start(); err != nil {
			t.Fatal(err)
		}
		if got, ok := n1.KA.WaitState("BACKUP", 10*time.Second); !ok || got.RC != "0" {
			t.Fatalf("ha: node 1 not back as backup: %q", got.Line)
		}
	})
	r.failover(t, "LAN link of the active down", 1, func(t *testing.T) {
		hatest.IP(t, n2.NS, "link set lan down")
	}, func(t *testing.T) {
		hatest.IP(t, n2.NS, "link set lan up")
		hatest.LANRoutes(t, n2.NS)
		// No preemption (the reference's preempt false): node 2 comes
		// back as the backup.
		if got, ok := n2.KA.WaitState("BACKUP", 5*time.Second); !ok || got.RC != "0" {
			t.Fatalf("ha: node 2 not back as backup: %q", got.Line)
		}
	})
	r.failover(t, "SIGKILL of the active secgwd", 0, func(t *testing.T) {
		n1.Kill()
	}, func(t *testing.T) {
		// secgwd starts again with its configuration and no SA: its
		// TUN device is back, keepalived's group leaves FAULT for
		// BACKUP, and the new active sends it every SA.
		ping, err := hatest.StartPing(r.p.Top.Peer, hatest.Sites[2].Peer, hatest.Sites[2].Local)
		if err != nil {
			t.Fatal(err)
		}
		n1.Start(t)
		if got, ok := n1.KA.WaitState("BACKUP", 10*time.Second); !ok || got.RC != "0" {
			t.Fatalf("ha: node 1 not back as backup: %q", got.Line)
		}
		r.waitSynced(t, 0)
		// The active kept serving during the resync.
		if res := ping.Stop(); res.Received == 0 || res.Received < res.Sent-1 {
			t.Errorf("ha: traffic lost while the restarted standby resynced: %v", res)
		}
	})
	// The notify log holds each transition, and secgwd took each one.
	for _, n := range r.p.Nodes {
		var states []string
		for _, x := range n.KA.Notifications() {
			states = append(states, fmt.Sprintf("%s(rc=%s)", x.State, x.RC))
		}
		t.Logf("ha: node %d notifications: %s", n.ID, strings.Join(states, " "))
	}
}

// haLines returns secgwd's log lines of subsystem ha.
func haLines(log string) string {
	var b strings.Builder
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "subsystem=ha") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
