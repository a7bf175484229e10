package gateway

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// windowVPN is the VPN "w" of one of two secgwd with n security
// policies p1..pn (10.1.i.0/24 and 10.2.i.0/24, swapped on the other
// side) and global-options window-size 4; start adds start-action start,
// so that the commit brings up every child SA at once.
func windowVPN(local, remote, localID, remoteID string, n int, swap, start bool) []string {
	p := "vpn w "
	lines := []string{
		"global-options window-size 4",
		p + "local-address " + local + " remote-address " + remote,
		p + "local-id " + localID + " remote-id " + remoteID,
		p + "ike-policy pre-shared-key " + testPSK,
	}
	if start {
		lines = append(lines, p+"ipsec-policy start-action start")
	}
	for i := 1; i <= n; i++ {
		l, r := fmt.Sprintf("10.1.%d.0/24", i), fmt.Sprintf("10.2.%d.0/24", i)
		if swap {
			l, r = r, l
		}
		s := fmt.Sprintf("%ssecurity-policy p%d ", p, i)
		lines = append(lines, s+"local-ts subnet "+l, s+"remote-ts subnet "+r)
	}
	return lines
}

var (
	outstandingRE = regexp.MustCompile(`msg="sending request".*exchange=CREATE_CHILD_SA.*outstanding=(\d+)`)
	peerWindowRE  = regexp.MustCompile(`msg="peer window".*size=4`)
)

// maxOutstanding is the most requests secgwd's debug log says it had in
// flight when it sent a CREATE_CHILD_SA request.
func maxOutstanding(log string) int {
	m := 0
	for _, s := range outstandingRE.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(s[1])
		m = max(m, n)
	}
	return m
}

// TestWindowSecgwd: two secgwd with window-size 4 announce it to each
// other (SET_WINDOW_SIZE in IKE_AUTH, "peer window" in both debug logs).
// The commit that adds eight security policies with start-action start
// brings them up at once: the seven CREATE_CHILD_SA requests after
// IKE_AUTH overlap, up to four in flight (secgwd's debug log counts
// them), and every child SA comes up on both sides; each is then rekeyed
// by secgwd and none is lost.
func TestWindowSecgwd(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	const n = 8
	top := newTopology(t)
	gw := startGateway(t, top.gw, "-log-level", "3")
	peer := startGateway(t, top.charon, "-log-level", "3")
	peer.configure(t, windowVPN(charonOuter.String(), gwOuter.String(), charonID, gwID, n, true, false)...)
	gw.configure(t, windowVPN(gwOuter.String(), charonOuter.String(), gwID, charonID, n, false, true)...)
	count := func(g *gateway) int {
		return len(spiRE.FindAllString(g.mustCLI(t, "", "show", "ike", "ike-sa", "details"), -1))
	}
	if !eventually(20*time.Second, func() bool { return count(gw) == n && count(peer) == n }) {
		t.Fatalf("child SAs: initiator %d, responder %d, want %d each\n%s", count(gw), count(peer), n, gw.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
	}
	for name, g := range map[string]*gateway{"initiator": gw, "responder": peer} {
		if !peerWindowRE.MatchString(g.readLog()) {
			t.Errorf("%s: no \"peer window\" size=4 in the debug log", name)
		}
	}
	m := maxOutstanding(gw.readLog())
	t.Logf("at most %d requests in flight when the child SAs came up", m)
	if m < 2 || m > 4 {
		t.Errorf("at most %d requests in flight, want 2 to 4 (window 4)", m)
	}
	before := spis(gw.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
	for i := 1; i <= n; i++ {
		gw.mustCLI(t, "", "cmd", "ike", "rekey", "child-sa", "security-policy", fmt.Sprintf("p%d", i))
	}
	if !eventually(20*time.Second, func() bool {
		after := spis(gw.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
		if count(gw) != n || count(peer) != n {
			return false
		}
		for _, s := range strings.Split(after, "\n") {
			if strings.Contains(before, s) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("after the rekeys: initiator %d child SAs, responder %d, want %d, all new\n%s", count(gw), count(peer), n, gw.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
	}
}
