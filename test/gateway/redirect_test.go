package gateway

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil/netnstest"
	"secgw/test/charontest"
)

// The second gateway of the redirect tests, B, on its own link with the
// initiator's namespace; it holds the same inner address as A:
//
//	[A] 192.0.2.1 --veth-- 192.0.2.2 [initiator] 198.51.100.2 --veth-- 198.51.100.1 [B] 10.1.0.1
var (
	gwBOuter   = netip.MustParseAddr("198.51.100.1")
	peerBOuter = netip.MustParseAddr("198.51.100.2")
)

// addGatewayB adds B's namespace, linked to the initiator's; B routes
// 192.0.2.0/24 back through the initiator's namespace, so that an
// initiator bound to 192.0.2.2 is answered too.
func addGatewayB(t *testing.T, top *topology) string {
	t.Helper()
	name := strings.TrimSuffix(top.gw, "-g") + "-b"
	b := netnstest.NewNamed(t, name)
	ch, err := netns.GetFromName(top.charon)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	netnstest.Veth(t, b, ch, "veth-b", "veth-initb", netip.PrefixFrom(gwBOuter, 24), netip.PrefixFrom(peerBOuter, 24))
	h := netnstest.Handle(t, b)
	netnstest.LoAddr(t, h, netip.PrefixFrom(gwInner4, 32))
	run(t, "ip", "netns", "exec", name, "ip", "route", "add", "192.0.2.0/24", "via", peerBOuter.String())
	return name
}

// responderVPN is a gateway's VPN for the initiator on 192.0.2.2 or
// 198.51.100.2: no remote-address, any of them.
func responderVPN(local netip.Addr) []string {
	lines := ourVPN(ourVPNName, suiteGCM, testPSK, policy4)
	lines[0] = "vpn " + ourVPNName + " local-address " + local.String()
	return lines
}

// getStats is the statistics of the IKE service.
const getStats = `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><name>main</name><ike xmlns="` + nsIKE + `"><statistics/></ike></vrf></filter></get>`

var ikeSAsRE = regexp.MustCompile(`<ike-sa-established>(\d+)</ike-sa-established>`)

// established returns the number of established IKE SAs of a gateway.
func (g *gateway) established(t *testing.T) string {
	m := ikeSAsRE.FindStringSubmatch(g.rpc(t, getStats))
	if m == nil {
		return ""
	}
	return m[1]
}

// TestRedirectCharon: secgwd A, draining (global-options redirect
// gateway B always true), answers charon's IKE_SA_INIT with REDIRECT
// (RFC 5685); charon (follow_redirects) sets up its IKE and child SA at
// secgwd B, with REDIRECTED_FROM, and traffic passes through B. Then B
// redirects the established IKE SA back to A by the operator's command
// ('cmd ike redirect'), A no longer draining: charon deletes it and
// comes up at A.
func TestRedirectCharon(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	top := newTopology(t)
	bNS := addGatewayB(t, top)
	gwA, gwB := startGateway(t, top.gw), startGateway(t, bNS)
	gwA.configure(t, append(responderVPN(gwOuter),
		"global-options redirect gateway "+gwBOuter.String(), "global-options redirect always true")...)
	gwB.configure(t, responderVPN(gwBOuter)...)
	ch := &charon{startCharonOpts(t, top.charon, "\tfollow_redirects = yes\n")}
	// charon picks its source address per gateway: no local_addrs.
	ch.Load(t, strings.Replace(swanctlConf(suiteGCM, testPSK, charonChildren(policy4)...), "local_addrs = "+charonOuter.String(), "", 1))
	if out, err := ch.Swanctl("--initiate", "--child", policy4.name, "--timeout", "20"); err != nil {
		t.Logf("swanctl --initiate: %v\n%s", err, out)
	}
	if !eventually(15*time.Second, func() bool { return gwB.established(t) == "1" }) {
		t.Fatalf("no IKE SA at B:\n%s", gwB.rpc(t, getStats))
	}
	if !strings.Contains(ch.ReadLog(), "redirect") {
		t.Errorf("charon's log does not mention the redirect")
	}
	if st := gwA.rpc(t, getStats); !strings.Contains(st, "<redirects-sent>1</redirects-sent>") || gwA.established(t) != "0" {
		t.Errorf("A's statistics:\n%s", st)
	}
	ping(t, top.charon, charonIn4, gwInner4)
	ping(t, bNS, gwInner4, charonIn4)
	if show := gwB.mustCLI(t, "", "show", "ike", "ike-sa", "details"); !strings.Contains(show, peerBOuter.String()) {
		t.Errorf("B's IKE SA is not with %s:\n%s", peerBOuter, show)
	}

	// The established IKE SA, redirected back to A by B's operator.
	gwA.configure(t, "global-options redirect always false")
	out := gwB.mustCLI(t, "", "cmd", "ike", "redirect", "ike-sa", "vpn", ourVPNName, "gateway", gwOuter.String())
	if !strings.Contains(out, "Redirected 1 IKE SA to "+gwOuter.String()) {
		t.Fatalf("cmd ike redirect:\n%s", out)
	}
	if !eventually(20*time.Second, func() bool { return gwA.established(t) == "1" && gwB.established(t) == "0" }) {
		t.Fatalf("charon did not move to A: A %s, B %s IKE SAs\n%s", gwA.established(t), gwB.established(t), ch.ReadLog())
	}
	ping(t, top.charon, charonIn4, gwInner4)
	ping(t, top.gw, gwInner4, charonIn4)
}

// TestRedirectSecgwd: secgwd as the initiator (follow-redirect) is
// redirected by secgwd A to secgwd B — in IKE_SA_INIT (global-options
// redirect), and in IKE_AUTH (ike-policy redirect-to), where it deletes
// its IKE SA with A — sends REDIRECTED_FROM, and its tunnel with B
// carries traffic (the trap policy of start-action trap, with A in its
// template, gives way to the child SA with B).
func TestRedirectSecgwd(t *testing.T) {
	for _, c := range []struct {
		name     string
		redirect []string
	}{
		{"IKE_SA_INIT", []string{"global-options redirect gateway " + gwBOuter.String(), "global-options redirect always true"}},
		{"IKE_AUTH", []string{"vpn " + ourVPNName + " ike-policy redirect-to " + gwBOuter.String()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redirectSecgwd(t, c.redirect, c.name == "IKE_AUTH")
		})
	}
}

func redirectSecgwd(t *testing.T, redirect []string, inAuth bool) {
	requirePrerequisites(t)
	top := newTopology(t)
	bNS := addGatewayB(t, top)
	gwA, gwB := startGateway(t, top.gw), startGateway(t, bNS)
	init := startGateway(t, top.charon)
	gwA.configure(t, append(responderVPN(gwOuter), redirect...)...)
	gwB.configure(t, responderVPN(gwBOuter)...)
	p := "vpn road "
	init.configure(t,
		p+"local-address "+charonOuter.String()+" remote-address "+gwOuter.String(),
		p+"local-id "+charonID+" remote-id "+gwID,
		p+"ike-policy pre-shared-key "+testPSK,
		p+"ike-policy ike-proposal 1 "+suiteGCM.ourIKE,
		p+"ike-policy follow-redirect true",
		p+"ipsec-policy esp-proposal 1 "+suiteGCM.ourESP,
		p+"security-policy "+policy4.name+" local-ts subnet "+charonNet4,
		p+"security-policy "+policy4.name+" remote-ts subnet "+gwNet4)
	out, _ := init.cli("", "cmd", "ike", "initiate", "child-sa", "security-policy", policy4.name)
	if !eventually(15*time.Second, func() bool { return gwB.established(t) == "1" && init.established(t) == "1" }) {
		t.Fatalf("no IKE SA between the initiator and B:\n%s\n%s", out, gwB.rpc(t, getStats))
	}
	// The IKE SA keeps its unique-id at B: initiate reports it up.
	if !strings.Contains(out, "CHILD_SA "+policy4.name+"{") || !strings.Contains(out, "established") {
		t.Errorf("cmd ike initiate:\n%s", out)
	}
	if st := init.rpc(t, getStats); !strings.Contains(st, "<redirects-followed>1</redirects-followed>") ||
		strings.Contains(st, "<failure>") {
		t.Errorf("the initiator's statistics:\n%s", st)
	}
	if st := gwA.rpc(t, getStats); !strings.Contains(st, "<redirects-sent>1</redirects-sent>") {
		t.Errorf("A's statistics:\n%s", st)
	}
	if !strings.Contains(init.readLog(), "following redirect") {
		t.Errorf("the initiator's log does not say it followed the redirect")
	}
	if inAuth && !eventually(10*time.Second, func() bool { return gwA.established(t) == "0" }) {
		t.Errorf("A keeps the IKE SA it redirected in IKE_AUTH:\n%s", gwA.rpc(t, getStats))
	}
	ping(t, top.charon, charonIn4, gwInner4)
	ping(t, bNS, gwInner4, charonIn4)
}

// startCharonOpts starts charon in ns with more settings of its
// strongswan.conf charon section.
func startCharonOpts(t *testing.T, ns, extra string) *charontest.Charon {
	t.Helper()
	return charontest.Start(t, ns, charontest.Options{Extra: extra})
}
