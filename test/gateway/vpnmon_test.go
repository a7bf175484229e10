package gateway

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVPNMonitorRestartsDeadTunnel: secgwd monitors its child SA with
// charon (vpn-monitor from 10.1.0.1 to charon's 10.2.0.1, interval 2 s,
// threshold 2). The echoes cross the real tunnel: the child-sa state
// says up. Then charon's namespace drops every ESP-in-UDP packet
// (nftables: UDP to 4500 without the Non-ESP Marker), so IKE still
// works (DPD would see nothing) but the tunnel is dead: after two
// unanswered echoes secgwd declares the child SA down, logs it, deletes
// it and negotiates a new one with charon. Once ESP passes again the new
// child SA is up, and traffic flows.
func TestVPNMonitorRestartsDeadTunnel(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("gateway: nft (Debian package nftables) is needed to drop ESP in this test")
	}
	st := newSetup(t, suiteGCM, policy4)
	st.gw.configure(t, "vpn "+ourVPNName+" security-policy "+policy4.name+" vpn-monitor destination-ip "+charonIn4.String()+
		" source-address "+gwInner4.String()+" interval 2 threshold 2")
	st.gwInitiate(t, policy4)
	get := `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><ike xmlns="` + nsIKE + `"><ike-sa><child-sa><unique-id/><vpn-monitor/></child-sa></ike-sa></ike></vrf></filter></get>`
	re := regexp.MustCompile(`<unique-id>(\d+)</unique-id>\s*<vpn-monitor>(\w+)</vpn-monitor>`)
	monitor := func() (uid, state string) {
		if m := re.FindStringSubmatch(st.gw.rpc(t, get)); m != nil {
			return m[1], m[2]
		}
		return "", ""
	}
	var first, state string
	if !eventually(15*time.Second, func() bool { first, state = monitor(); return state == "up" }) {
		t.Fatalf("gateway: vpn-monitor of child SA %q is %q, want up (echoes through the tunnel)", first, state)
	}

	run(t, "ip", "netns", "exec", st.top.charon, "nft",
		"add table inet secgwmon; add chain inet secgwmon in { type filter hook input priority 0 ; } ; "+
			"add rule inet secgwmon in udp dport 4500 @th,64,32 != 0 drop")
	var uid string
	if !eventually(30*time.Second, func() bool { uid, state = monitor(); return uid != "" && uid != first }) {
		t.Fatalf("gateway: child SA %s not restarted 30 s after ESP was dropped (now %q %q)\n%s", first, uid, state, st.gw.readLog())
	}
	if log := st.gw.readLog(); !strings.Contains(log, `msg="VPN monitor: child SA down"`) || !strings.Contains(log, "event=vpn-monitor-down") {
		t.Errorf("gateway: no log of the child SA found down:\n%s", log)
	}
	run(t, "ip", "netns", "exec", st.top.charon, "nft", "delete table inet secgwmon")
	if !eventually(30*time.Second, func() bool { uid, state = monitor(); return state == "up" }) {
		t.Fatalf("gateway: the new child SA %q is %q once ESP passes again, want up\n%s", uid, state, st.gw.readLog())
	}
	ping(t, st.top.gw, gwInner4, charonIn4)
}
