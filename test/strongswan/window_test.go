package strongswan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
)

// TestWindowInterop: our engine with global-options window-size 4 and
// eight child SAs with charon, whose strongSwan 5.9 has no window setting
// and announces no SET_WINDOW_SIZE: our IKE_AUTH carries SET_WINDOW_SIZE
// (charon ignores it), and towards charon we keep the window of one
// (RFC 7296 §2.3) while we rekey all eight child SAs at once and charon
// rekeys them on its short rekey_time: every exchange goes in turn, no
// request exceeds charon's window (charon never logs a message ID it
// ignored), and no child SA is lost.
func TestWindowInterop(t *testing.T) {
	const n = 8
	requirePrerequisites(t)
	s := suiteGCM
	top := newTopology(t)
	for i := 1; i <= n; i++ {
		// charon installs a route for each child SA from an address of
		// its local selector (see newTopologyFor).
		run(t, "ip", "-n", top.charon, "addr", "add", fmt.Sprintf("10.2.%d.1/32", i), "dev", "lo")
	}
	ch := startCharon(t, top.charon)
	var children strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&children, `			c%d {
				local_ts = 10.2.%d.0/24
				remote_ts = 10.1.%d.0/24
				esp_proposals = %s
				start_action = none
				rekey_time = 8s
				rand_time = 1s
				life_time = 120s
			}
`, i, i, i, s.charonESP)
	}
	conf := strings.Replace(swanctlConf(s, "interop-secret", top), "\t\tchildren {\n", "\t\tchildren {\n"+children.String(), 1)
	ch.Load(t, conf)
	lines := ourConf(s, "interop-secret", top)
	lines = append(lines, "global-options window-size 4")
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf("vpn v1 security-policy c%d ", i)
		lines = append(lines, p+fmt.Sprintf("local-ts subnet 10.1.%d.0/24", i), p+fmt.Sprintf("remote-ts subnet 10.2.%d.0/24", i))
	}
	us := startOurs(t, top.ours, top.ourAddr, lines...)
	st := &setup{top: top, ch: ch, us: us}
	st.establish(t, true) // the child SA of "net" in IKE_AUTH
	for i := 1; i <= n; i++ {
		if _, err := us.e.InitiateChild(fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// settled reports whether both sides hold the same n installed child
	// SAs on one IKE SA. Charon keeps a child SA it rekeyed for
	// delete_rekeyed_delay (REKEYED, DELETING): only its INSTALLED ones
	// count.
	var last string
	settled := func() bool {
		ours := us.dp.Children()
		raw, _ := ch.Swanctl("--list-sas", "--raw")
		sas := listSAs(raw)
		if len(sas) != 1 {
			last = fmt.Sprintf("charon has %d IKE SAs", len(sas))
			return false
		}
		var in, out []string
		for _, c := range ours {
			in = append(in, fmt.Sprintf("%08x", c.InSPI))
		}
		for _, c := range sas[0].children {
			if c.state == "INSTALLED" {
				out = append(out, c.spiOut)
			}
		}
		slices.Sort(in)
		slices.Sort(out)
		last = fmt.Sprintf("ours %v, charon's installed %v", in, out)
		return len(in) == n && slices.Equal(in, out)
	}
	poll.Require(t, 15*time.Second, "the child SAs on both sides", settled)
	var before []uint32
	for _, c := range us.dp.Children() {
		before = append(before, c.InSPI)
	}
	sa := us.e.Snapshot(false)[0]
	for _, c := range sa.Children {
		if err := us.e.RekeyChild(c.UniqueID); err != nil {
			t.Fatal(err)
		}
	}
	// Charon's own rekeys come on its timers (rekey_time 8 s, rand_time
	// 1 s), while or after ours run.
	poll.Require(t, 40*time.Second, "charon's rekeys of all child SAs", func() bool {
		return strings.Count(ch.ReadLog(), "activating CHILD_REKEY task") >= n
	})
	if !poll.Until(20*time.Second, settled) {
		t.Fatalf("the rekeyed child SAs on both sides: %s", last)
	}
	for _, c := range us.dp.Children() {
		if slices.Contains(before, c.InSPI) {
			t.Errorf("child SA %08x was not rekeyed", c.InSPI)
		}
	}
	log := ch.ReadLog()
	t.Logf("charon initiated %d child SA rekeys", strings.Count(log, "activating CHILD_REKEY task"))
	if strings.Contains(log, "expected") && strings.Contains(log, "ignored") {
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "received message ID") {
				t.Errorf("charon ignored one of our requests: %s", l)
			}
		}
	}
	maxOut, requests := 0, 0
	for _, r := range us.logs.find("sending request") {
		requests++
		if o, ok := r.attrs["outstanding"].(int64); ok {
			maxOut = max(maxOut, int(o))
		}
	}
	t.Logf("%d requests sent, at most %d outstanding at once", requests, maxOut)
	if maxOut != 1 {
		t.Errorf("%d requests outstanding at once towards charon, which announced no window, want 1", maxOut)
	}
	if len(us.logs.find("peer window")) != 0 {
		t.Error("charon announced a window")
	}
}
