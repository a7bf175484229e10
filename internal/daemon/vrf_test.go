package daemon

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/poll"
)

// configureIn edits the candidate with the vpn elements given in vrf
// and commits.
func (g *gateway) configureIn(t *testing.T, vrf, vpns string) {
	t.Helper()
	g.rpc(t, `<edit-config><target><candidate/></target><config>`+
		`<vrf xmlns="urn:secgw:yang:secgw-vrf"><name>`+vrf+`</name><ike xmlns="urn:secgw:yang:secgw-ike">`+vpns+
		`</ike></vrf></config></edit-config>`)
	g.rpc(t, `<commit/>`)
}

func ikeSAFilterIn(vrf string) string {
	return `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>` + vrf +
		`</name><ike xmlns="urn:secgw:yang:secgw-ike"><ike-sa/></ike></vrf></filter></get>`
}

var uniqueIDRe = regexp.MustCompile(`<unique-id>(\d+)</unique-id>`)

// TestVRFInstances: two daemons each run vrf main and vrf
// cust (a named namespace the test creates, ip netns style), with the
// same VPN name and the same addresses (127.0.0.1 -> 127.0.0.2) in both:
// the sockets of each vrf live in its namespace, so they do not clash.
// An initiate RPC naming the vrf sets up that vrf's IKE SA only; the
// state is per vrf; a commit in vrf main leaves vrf cust's SA as it was;
// deleting cust's namespace takes its instance and SAs down, and
// recreating it brings them back (start-action start), with no commit.
func TestVRFInstances(t *testing.T) {
	netnstest.RequireRoot(t)
	cust := netnstest.Name("vrfd", 1)
	netnstest.NewNamed(t, cust)
	a := startGateway(t, "a", 17540)
	b := startGateway(t, "b", 17540)
	for vrf, ts := range map[string]string{"main": "10.2.0.0/16", cust: "10.3.0.0/16"} {
		b.configureIn(t, vrf, vpnXML("v", "net", "127.0.0.2", "", "b.example", "a.example", ts, "10.1.0.0/16"))
	}
	a.configureIn(t, "main", vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"))
	custVPN := strings.Replace(vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.3.0.0/16"),
		"<security-policy>", "<ipsec-policy><start-action>start</start-action></ipsec-policy><security-policy>", 1)
	a.configureIn(t, cust, custVPN)

	// cust's VPN starts by itself; main's waits for the RPC.
	established := func(g *gateway, vrf string) bool {
		return strings.Contains(g.rpc(t, ikeSAFilterIn(vrf)), "<state>established</state>")
	}
	if !poll.Until(10*time.Second, func() bool { return established(a, cust) && established(b, cust) }) {
		t.Fatalf("vrf %s: no IKE SA:\nA %s\nB %s", cust, a.rpc(t, ikeSAFilterIn(cust)), b.rpc(t, ikeSAFilterIn(cust)))
	}
	if st := a.rpc(t, ikeSAFilterIn("main")); strings.Contains(st, "<ike-sa>") {
		t.Fatalf("vrf main has an IKE SA before its initiate:\n%s", st)
	}
	out := a.rpc(t, `<initiate xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><child-sa><security-policy>net</security-policy></child-sa></initiate>`)
	if !strings.Contains(out, "IKE_SA v[1] established") {
		t.Fatalf("initiate in vrf main:\n%s", out)
	}
	// Each vrf's SA carries its own selectors.
	if st := b.rpc(t, `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>`+cust+
		`</name><ike xmlns="urn:secgw:yang:secgw-ike"><ike-sa><child-sa/></ike-sa></ike></vrf></filter></get>`); !strings.Contains(st, "10.3.0.0/16") || strings.Contains(st, "10.2.0.0/16") {
		t.Errorf("B's vrf %s child SA:\n%s", cust, st)
	}
	before := uniqueIDRe.FindString(a.rpc(t, ikeSAFilterIn(cust)))

	// A commit in vrf main (a VPN added, main's VPN changed): cust's SA
	// is the same one.
	a.configureIn(t, "main", vpnXML("w", "other", "127.0.0.1", "127.0.0.9", "a.example", "c.example", "10.1.0.0/16", "10.9.0.0/16"))
	a.configureIn(t, "main", vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.4.0.0/16"))
	if after := uniqueIDRe.FindString(a.rpc(t, ikeSAFilterIn(cust))); after != before || before == "" {
		t.Errorf("vrf %s's IKE SA %q became %q after commits in vrf main", cust, before, after)
	}
	// An RPC naming a vrf without IKE is refused.
	if _, err := a.s.Exec(gonetconf.RawMethod(`<flush xmlns="urn:secgw:yang:secgw-ike"><vrf>nosuch</vrf><ike-sa><vpn>v</vpn></ike-sa></flush>`)); err == nil {
		t.Error("flush in a vrf without IKE succeeded")
	}

	// vrf main's VPN v changed (and its SA with it): up again before
	// cust's namespace goes.
	a.rpc(t, `<initiate xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><ike-sa><vpn>v</vpn></ike-sa></initiate>`)
	if !established(a, "main") {
		t.Fatalf("vrf main: no IKE SA:\n%s", a.rpc(t, ikeSAFilterIn("main")))
	}

	// The namespace goes: cust's instances close on both sides.
	if err := netnsutil.DeleteNamed(cust); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(10*time.Second, func() bool {
		return !strings.Contains(a.rpc(t, ikeSAFilterIn(cust)), "<ike-sa>") && !strings.Contains(b.rpc(t, ikeSAFilterIn(cust)), "<ike-sa>")
	}) {
		t.Fatalf("vrf %s's SAs outlived its namespace:\n%s", cust, a.rpc(t, ikeSAFilterIn(cust)))
	}
	nsFilter := `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>` + cust +
		`</name><ike xmlns="urn:secgw:yang:secgw-ike"><namespace/></ike></vrf></filter></get>`
	if !poll.Until(5*time.Second, func() bool { return strings.Contains(a.rpc(t, nsFilter), "<namespace>missing</namespace>") }) {
		t.Errorf("vrf %s's state does not report its namespace missing:\n%s", cust, a.rpc(t, nsFilter))
	}
	if !established(a, "main") {
		t.Errorf("vrf main's SA went down with vrf %s's namespace", cust)
	}
	// It comes back: so do the instances and cust's SA.
	ns, err := netnsutil.NewNamed(cust)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := netnsutil.LinkUp(netnstest.Handle(t, ns), "lo"); err != nil {
		t.Fatal(err)
	}
	if !poll.Until(15*time.Second, func() bool { return established(a, cust) && established(b, cust) }) {
		t.Fatalf("vrf %s: no IKE SA after its namespace came back:\nA %s", cust, a.rpc(t, ikeSAFilterIn(cust)))
	}
	if st := a.rpc(t, nsFilter); !strings.Contains(st, "<namespace>present</namespace>") {
		t.Errorf("vrf %s's state after its namespace came back:\n%s", cust, st)
	}
}

// TestVRFRefusedBeforeItRuns: a commit that adds a vrf whose namespace
// does not exist yet is accepted (the vrf starts when it appears), but
// what its instance would refuse is refused at once, as that instance
// would: here (the fake dataplane, which carries no ESP over TCP)
// listen-tcp, and svti-id-out (no XFRM interfaces; and with it
// inject-routes, which needs svti-id-out). With the userspace dataplane,
// whose instances carry ESP over TCP, listen-tcp is accepted
// (TestVRFMissingAcceptsWhatItsInstanceRuns).
func TestVRFRefusedBeforeItRuns(t *testing.T) {
	a := startGateway(t, "a", 17560)
	vrf := netnstest.Name("vrfr", 1) // no such namespace
	a.configureIn(t, vrf, vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.3.0.0/16"))
	nsFilter := `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>` + vrf +
		`</name><ike xmlns="urn:secgw:yang:secgw-ike"><namespace/></ike></vrf></filter></get>`
	if st := a.rpc(t, nsFilter); !strings.Contains(st, "<namespace>missing</namespace>") {
		t.Errorf("vrf %s without its namespace:\n%s", vrf, st)
	}
	for _, body := range []string{
		`<global-options><listen-tcp>true</listen-tcp></global-options>`,
		`<vpn><name>v</name><security-policy><name>net</name><svti-id-out>100</svti-id-out></security-policy></vpn>`,
	} {
		a.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>`+vrf+
			`</name><ike xmlns="urn:secgw:yang:secgw-ike">`+body+`</ike></vrf></config></edit-config>`)
		_, err := a.s.Exec(gonetconf.RawMethod(`<commit/>`))
		// Named by the refusal: the vrf, or (svti-id-out, which no vrf
		// but main can run) the support table's "vrf main only".
		if err == nil || !strings.Contains(err.Error(), "vrf "+vrf) && !strings.Contains(err.Error(), "vrf main only") {
			t.Errorf("commit of %s in vrf %s: %v, want a refusal naming the vrf", body, vrf, err)
		}
		a.rpc(t, `<discard-changes/>`)
	}
}

// TestVRFCommitInOtherVRF is TestVRFInstances the other way round, with
// what another vrf reports: vrf main and vrf cust each run a tunnel
// (start-action start); cust's state has the statistics and the
// diagnostics main's has (cookies-sent, its own dataplane's SAs), and
// the metrics endpoint exports its SAs with its vrf label; commits in
// cust (a VPN added, cust's VPN changed) leave main's IKE SA as it was.
func TestVRFCommitInOtherVRF(t *testing.T) {
	netnstest.RequireRoot(t)
	cust := netnstest.Name("vrfops", 2)
	netnstest.NewNamed(t, cust)
	a := startGateway(t, "a", 17580)
	b := startGateway(t, "b", 17580)
	start := func(x string) string {
		return strings.Replace(x, "<security-policy>", "<ipsec-policy><start-action>start</start-action></ipsec-policy><security-policy>", 1)
	}
	for vrf, ts := range map[string]string{"main": "10.2.0.0/16", cust: "10.3.0.0/16"} {
		b.configureIn(t, vrf, vpnXML("v", "net", "127.0.0.2", "", "b.example", "a.example", ts, "10.1.0.0/16"))
		a.configureIn(t, vrf, start(vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", ts)))
	}
	established := func(vrf string) bool {
		return strings.Contains(a.rpc(t, ikeSAFilterIn(vrf)), "<state>established</state>")
	}
	if !poll.Until(10*time.Second, func() bool { return established("main") && established(cust) }) {
		t.Fatalf("no IKE SAs:\nmain %s\n%s %s", a.rpc(t, ikeSAFilterIn("main")), cust, a.rpc(t, ikeSAFilterIn(cust)))
	}
	// The child SA is installed with its IKE SA: its dataplane holds it.
	st := a.rpc(t, `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>`+cust+
		`</name><ike xmlns="urn:secgw:yang:secgw-ike"><statistics/><diagnostics/></ike></vrf></filter></get>`)
	if !strings.Contains(st, "<cookies-sent>0</cookies-sent>") || !strings.Contains(st, "<dataplane-sa>") {
		t.Errorf("vrf %s's statistics and diagnostics:\n%s", cust, st)
	}
	port := freePort(t)
	a.rpc(t, kpiXML(true, port))
	a.rpc(t, `<commit/>`)
	body, err := scrape(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`secgw_ike_sas{state="established",vrf="main"} 1`,
		`secgw_ike_sas{state="established",vrf="` + cust + `"} 1`,
		`secgw_child_sas{state="installed",vrf="` + cust + `"} 1`,
		`secgw_ike_sa_setups_total{vrf="` + cust + `"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}

	before := uniqueIDRe.FindString(a.rpc(t, ikeSAFilterIn("main")))
	a.configureIn(t, cust, vpnXML("w", "other", "127.0.0.1", "127.0.0.9", "a.example", "c.example", "10.1.0.0/16", "10.9.0.0/16"))
	a.configureIn(t, cust, start(vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.4.0.0/16")))
	if after := uniqueIDRe.FindString(a.rpc(t, ikeSAFilterIn("main"))); after != before || before == "" {
		t.Errorf("vrf main's IKE SA %q became %q after commits in vrf %s", before, after, cust)
	}
}

// TestVRFDataplaneFeedback: what the dataplane of vrf cust reports
// reaches cust's engine. dpd-mode optimized probes a peer once traffic
// was sent through the child SA and none came back for dpd-delay (the
// vrf's dataplane says when its SAs last carried traffic); before any
// traffic was sent, it does not. ESP with an unknown SPI from the peer
// (the dataplane's unknown-SPI event) is answered with INVALID_SPI
// (respond-bad-spi).
func TestVRFDataplaneFeedback(t *testing.T) {
	netnstest.RequireRoot(t)
	cust := netnstest.Name("vrfopsd", 1)
	netnstest.NewNamed(t, cust)
	a := startGateway(t, "a", 17620)
	b := startGateway(t, "b", 17620)
	b.configureIn(t, cust, vpnXML("v", "net", "127.0.0.2", "", "b.example", "a.example", "10.3.0.0/16", "10.1.0.0/16"))
	a.configureIn(t, cust, strings.Replace(vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.3.0.0/16"),
		"<ike-policy>", "<ike-policy><dpd-delay>1s</dpd-delay><dpd-mode>optimized</dpd-mode>", 1)+
		`<global-options><respond-bad-spi/></global-options>`)
	out := a.rpc(t, `<initiate xmlns="urn:secgw:yang:secgw-ike"><vrf>`+cust+`</vrf><child-sa><security-policy>net</security-policy></child-sa></initiate>`)
	if !strings.Contains(out, "established") {
		t.Fatalf("initiate in vrf %s:\n%s", cust, out)
	}
	dpdSent := func() string {
		st := a.rpc(t, `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>`+cust+
			`</name><ike xmlns="urn:secgw:yang:secgw-ike"><statistics><dpd-sent/></statistics></ike></vrf></filter></get>`)
		m := regexp.MustCompile(`<dpd-sent>(\d+)</dpd-sent>`).FindStringSubmatch(st)
		if m == nil {
			t.Fatalf("no dpd-sent in vrf %s's state:\n%s", cust, st)
		}
		return m[1]
	}
	time.Sleep(2500 * time.Millisecond) // over two dpd-delays, no traffic sent
	if n := dpdSent(); n != "0" {
		t.Fatalf("vrf %s probed %s times without traffic sent", cust, n)
	}
	spi := regexp.MustCompile(`<spi-out>([0-9a-f]+)</spi-out>`).FindStringSubmatch(a.rpc(t, `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>`+
		cust+`</name><ike xmlns="urn:secgw:yang:secgw-ike"><ike-sa><child-sa><spi-out/></child-sa></ike-sa></ike></vrf></filter></get>`))
	if spi == nil {
		t.Fatal("no child SA spi-out")
	}
	n, err := strconv.ParseUint(spi[1], 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	a.d.vrfs.mu.Lock()
	fake := a.d.vrfs.inst[cust].dp.(*dataplane.Fake)
	a.d.vrfs.mu.Unlock()
	fake.SetCounters(dataplane.SAKey{Dst: netip.MustParseAddr("127.0.0.2"), SPI: uint32(n)}, dataplane.Counters{Packets: 1, LastUsed: time.Now()})
	if !poll.Until(5*time.Second, func() bool { return dpdSent() != "0" }) {
		t.Errorf("vrf %s sent no DPD probe after traffic went out and none came back", cust)
	}

	fake.Emit(dataplane.Event{Kind: dataplane.UnknownSPI, SA: dataplane.SAKey{Dst: netip.MustParseAddr("127.0.0.1"), SPI: 0xdead},
		Src: netip.MustParseAddr("127.0.0.2")})
	invalid := regexp.MustCompile(`<invalid-spi-sent>1</invalid-spi-sent>`)
	if !poll.Until(5*time.Second, func() bool {
		return invalid.MatchString(a.rpc(t, `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>`+cust+
			`</name><ike xmlns="urn:secgw:yang:secgw-ike"><statistics/></ike></vrf></filter></get>`))
	}) {
		t.Errorf("vrf %s sent no INVALID_SPI for ESP with an unknown SPI from its peer", cust)
	}
}
