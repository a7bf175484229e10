package gateway

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVerifyPathWithCharon: datapath verification (vpn-monitor
// verify-path, interval 2 s, threshold 2) with charon. First charon's
// namespace drops the echo requests to its 10.2.0.1 (nftables on input,
// after kernel-libipsec decrypted them): the child SA is established but
// its route into the TUN device (table 220) never appears, the child-sa
// state says verifying-path, and after two unanswered echoes secgwd logs
// the failed verification and negotiates a new child SA, whose route
// waits too. Then charon answers: the echo sent through the TUN device
// (no route leads there) is answered, the route is installed, the state
// says up and ping crosses the tunnel.
func TestVerifyPathWithCharon(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("gateway: nft (Debian package nftables) is needed to drop ICMP in this test")
	}
	st := newSetup(t, suiteGCM, policy4)
	run(t, "ip", "netns", "exec", st.top.charon, "nft",
		"add table inet vrfypath; add chain inet vrfypath in { type filter hook input priority 0 ; } ; "+
			"add rule inet vrfypath in ip daddr "+charonIn4.String()+" icmp type echo-request drop")
	st.gw.configure(t, "vpn "+ourVPNName+" security-policy "+policy4.name+" vpn-monitor destination-ip "+charonIn4.String()+
		" source-address "+gwInner4.String()+" interval 2 threshold 2 verify-path true")
	st.gwInitiate(t, policy4)
	get := `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><ike xmlns="` + nsIKE + `"><ike-sa><child-sa><unique-id/><vpn-monitor/></child-sa></ike-sa></ike></vrf></filter></get>`
	re := regexp.MustCompile(`<unique-id>(\d+)</unique-id>\s*<vpn-monitor>([\w-]+)</vpn-monitor>`)
	monitor := func() (uid, state string) {
		if m := re.FindStringSubmatch(st.gw.rpc(t, get)); m != nil {
			return m[1], m[2]
		}
		return "", ""
	}
	routed := func() bool {
		return strings.Contains(run(t, "ip", "-n", st.top.gw, "route", "show", "table", "220"), charonNet4)
	}
	var first, state string
	if !eventually(15*time.Second, func() bool { first, state = monitor(); return state == "verifying-path" }) {
		t.Fatalf("gateway: vpn-monitor of child SA %q is %q, want verifying-path\n%s", first, state, st.gw.readLog())
	}
	var uid string
	if !eventually(30*time.Second, func() bool { uid, state = monitor(); return uid != "" && uid != first }) {
		t.Fatalf("gateway: child SA %s not renegotiated 30 s after its verification began (now %q %q)\n%s", first, uid, state, st.gw.readLog())
	}
	if routed() {
		t.Fatalf("gateway: route to %s installed though no echo was answered:\n%s", charonNet4,
			run(t, "ip", "-n", st.top.gw, "route", "show", "table", "220"))
	}
	if log := st.gw.readLog(); !strings.Contains(log, `msg="VPN monitor: datapath verification failed"`) ||
		!strings.Contains(log, "datapath verification failed, routes never installed") {
		t.Errorf("gateway: no log of the failed verification:\n%s", log)
	}
	if _, state = monitor(); state != "verifying-path" {
		t.Errorf("gateway: the renegotiated child SA's vpn-monitor is %q, want verifying-path", state)
	}

	run(t, "ip", "netns", "exec", st.top.charon, "nft", "delete table inet vrfypath")
	if !eventually(30*time.Second, func() bool { uid, state = monitor(); return state == "up" }) {
		t.Fatalf("gateway: child SA %q is %q once charon answers, want up\n%s", uid, state, st.gw.readLog())
	}
	if !eventually(5*time.Second, routed) {
		t.Fatalf("gateway: no route to %s after the verification:\n%s", charonNet4, run(t, "ip", "-n", st.top.gw, "route", "show", "table", "220"))
	}
	if log := st.gw.readLog(); !strings.Contains(log, "datapath verified: routes installed") {
		t.Errorf("gateway: no log of the verified path:\n%s", log)
	}
	ping(t, st.top.gw, gwInner4, charonIn4)
}
