package daemon

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/poll"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

const haSecret = "0123456789abcdef0123456789abcdef"

// haXML is the HA configuration of node id (1 on 127.0.0.1, 2 on
// 127.0.0.2): VRRP group g1 notifies HA group hag, which IKE HA listens
// to; group g2 notifies another HA group.
func haXML(id int, port uint16, secret, iface string) string {
	local, remote := "127.0.0.1", "127.0.0.2"
	if id == 2 {
		local, remote = remote, local
	}
	ifc := ""
	if iface != "" {
		ifc = "<interface>" + iface + "</interface>"
	}
	return fmt.Sprintf(`<vrrp xmlns="urn:secgw:yang:secgw-ha">`+
		`<group><name>g1</name><instance>vrrp0</instance><instance>vrrp1</instance><notify-ha-group>hag</notify-ha-group></group>`+
		`<group><name>g2</name><notify-ha-group>elsewhere</notify-ha-group></group></vrrp>`+
		`<ike xmlns="urn:secgw:yang:secgw-ike"><ha xmlns="urn:secgw:yang:secgw-ha"><listen-ha-group>hag</listen-ha-group>`+
		`<node-id>%d</node-id>%s<local-address>%s</local-address><remote-address>%s</remote-address><port>%d</port>`+
		`<secret>%s</secret><seqnum-sync><oseq-shift>100000</oseq-shift><sync-period-time>1s</sync-period-time>`+
		`<sync-period-packets>10</sync-period-packets></seqnum-sync></ha></ike>`, id, ifc, local, remote, port, secret)
}

func (g *gateway) configureVRF(t *testing.T, body string) string {
	t.Helper()
	g.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>`+
		body+`</vrf></config></edit-config>`)
	r, err := g.s.Do(`<commit/>`)
	if err != nil {
		g.rpc(t, `<discard-changes/>`)
		return string(r) + err.Error()
	}
	return ""
}

const haStateFilter = `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
	`<ike xmlns="urn:secgw:yang:secgw-ike"><ha xmlns="urn:secgw:yang:secgw-ha"><state/></ha></ike></vrf></filter></get>`

func haNotify(group, state string) string {
	return `<ha-notify xmlns="urn:secgw:yang:secgw-ha"><group>` + group + `</group><state>` + state + `</state></ha-notify>`
}

func freeTCPPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// waitState polls the HA state of g until it contains every want.
func waitState(t *testing.T, g *gateway, what string, want ...string) string {
	t.Helper()
	var st string
	if !poll.Until(20*time.Second, func() bool {
		st = g.rpc(t, haStateFilter)
		for _, w := range want {
			if !strings.Contains(st, w) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("%s: HA state\n%s\nwant %q", what, st, want)
	}
	return st
}

// TestHAPairNETCONF: two daemons configured as an HA pair over NETCONF
// (vrrp groups, ike ha: node-id, addresses, port, secret, interface,
// seqnum-sync) bring their sync link up; ha-notify maps the VRRP group to
// the listen-ha-group and sets the roles, each a ha-role-change; the
// state shows roles, link and peer role; an unknown group is an
// rpc-error, a group bound to another HA group changes nothing; a new
// port moves the link; a wrong secret is rejected and counted; an
// interface that does not exist refuses the commit.
func TestHAPairNETCONF(t *testing.T) {
	a := startGateway(t, "node1", 17600)
	b := startGateway(t, "node2", 17610)
	var mu sync.Mutex
	var events []string
	a.d.ha.setNotify(func(name string, v any) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%s %+v", name, v))
	})
	port := freeTCPPort(t)
	if msg := a.configureVRF(t, haXML(1, port, haSecret, "lo")); msg != "" {
		t.Fatal(msg)
	}
	if msg := b.configureVRF(t, haXML(2, port, haSecret, "")); msg != "" {
		t.Fatal(msg)
	}
	waitState(t, a, "link up", "<role>init</role>", "<peer-connected>true</peer-connected>", "<peer-role>init</peer-role>")

	// ha-notify: g1 notifies hag, the listen-ha-group.
	a.rpc(t, haNotify("g1", "master"))
	b.rpc(t, haNotify("g1", "backup"))
	waitState(t, a, "node 1 active", "<role>active</role>", "<peer-role>standby</peer-role>", "<transitions>1</transitions>")
	waitState(t, b, "node 2 standby", "<role>standby</role>", "<peer-role>active</peer-role>", "<resyncs>0</resyncs>")
	// g2 notifies another HA group: nothing changes.
	b.rpc(t, haNotify("g2", "master"))
	waitState(t, b, "g2 ignored", "<role>standby</role>")
	// An unknown group is refused, naming it.
	if r, err := b.s.Do(haNotify("nope", "master")); err == nil || !strings.Contains(string(r), `has no vrrp group "nope"`) {
		t.Fatalf("unknown group: %v\n%s", err, r)
	}
	mu.Lock()
	got := fmt.Sprint(events)
	mu.Unlock()
	if want := "[ha-role-change {VRF:main Role:active Previous:init Reason:vrrp master}]"; got != want {
		t.Fatalf("notifications %s, want %s", got, want)
	}

	// A new port on both: the link comes back on it.
	port2 := freeTCPPort(t)
	a.configureVRF(t, haXML(1, port2, haSecret, "lo"))
	b.configureVRF(t, haXML(2, port2, haSecret, ""))
	waitState(t, a, "link on the new port", "<role>active</role>", "<peer-connected>true</peer-connected>", "<peer-role>standby</peer-role>")
	if st := b.rpc(t, haStateFilter); !strings.Contains(st, "<role>standby</role>") {
		t.Fatalf("the role did not survive the reconfiguration:\n%s", st)
	}

	// Another secret on node 2: every message is rejected.
	b.configureVRF(t, haXML(2, port2, "0123456789abcdef-another-secret", ""))
	waitState(t, a, "wrong secret", "<peer-connected>false</peer-connected>")
	st := waitState(t, b, "wrong secret counted", "<messages-rejected>")
	if strings.Contains(st, "<messages-rejected>0</messages-rejected>") {
		waitState(t, a, "wrong secret counted", "<messages-rejected>1")
	}

	// An interface that does not exist: the commit is refused.
	if msg := a.configureVRF(t, haXML(1, port2, haSecret, "nosuchif0")); !strings.Contains(msg, "nosuchif0") {
		t.Fatalf("commit with a missing interface: %q", msg)
	}
	// The aborted commit left node 1 as it was: active, on its port.
	b.configureVRF(t, haXML(2, port2, haSecret, ""))
	waitState(t, a, "after the refused commit", "<role>active</role>", "<peer-connected>true</peer-connected>", "<transitions>1</transitions>")
}

// TestHARoleChangeEncoding: the ha-role-change notification as the
// NETCONF server writes it.
func TestHARoleChangeEncoding(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	got, err := xmlcodec.AppendNotification(nil, s.Notifications["ha-role-change"],
		haRoleChange{VRF: "main", Role: "active", Previous: "standby", Reason: "vrrp master"})
	if err != nil {
		t.Fatal(err)
	}
	want := `<ha-role-change xmlns="urn:secgw:yang:secgw-ha"><vrf>main</vrf><role>active</role><previous-role>standby</previous-role><reason>vrrp master</reason></ha-role-change>`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestHASeqnumSync: seqnum-sync reaches the HA node (oseq-shift is what a
// takeover adds: internal/ha's TestLinkSnapshotIncremental shows the
// engine given it), defaults included; a sync-period-packets that is not
// well below oseq-shift is refused at commit.
func TestHASeqnumSync(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	dev := func(body string) *generated.Device {
		t.Helper()
		codec, err := xmlcodec.New(s)
		if err != nil {
			t.Fatal(err)
		}
		d := &generated.Device{}
		edits, err := codec.Decode(strings.NewReader(`<vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>`+body+`</vrf>`), d, xmlcodec.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := xmlcodec.Apply(s, d, edits, xmlcodec.OpMerge); err != nil {
			t.Fatal(err)
		}
		return d
	}
	c, err := resolveHA(dev(haXML(2, 4600, haSecret, "")))
	if err != nil {
		t.Fatal(err)
	}
	if c.ike.shift != 100000 || c.ike.period != time.Second || c.ike.packets != 10 || c.ike.nodeID != 2 || c.ike.port != 4600 ||
		c.groups["g1"] != "hag" || c.ike.listen != "hag" || c.ike.local.String() != "127.0.0.2" {
		t.Fatalf("resolved %+v %+v", c, c.ike)
	}
	c, err = resolveHA(dev(strings.Replace(strings.Replace(haXML(1, 4600, haSecret, ""),
		"<seqnum-sync><oseq-shift>100000</oseq-shift><sync-period-time>1s</sync-period-time><sync-period-packets>10</sync-period-packets></seqnum-sync>", "", 1),
		"<port>4600</port>", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.ike.shift != 65536 || c.ike.period != 10*time.Second || c.ike.packets != 0 || c.ike.port != 4510 {
		t.Fatalf("defaults: %+v", c.ike)
	}
	if _, err := resolveHA(dev(strings.Replace(haXML(1, 4600, haSecret, ""), "<sync-period-packets>10<", "<sync-period-packets>100<", 1))); err == nil ||
		!strings.Contains(err.Error(), "oseq-shift") {
		t.Fatalf("sync-period-packets 100 thousand with oseq-shift 100000: %v", err)
	}
}

// TestHARoleChangeNotification: a NETCONF client subscribed with
// create-subscription (ncclient) receives ha-role-change when its
// ha-notify makes the node active.
func TestHARoleChangeNotification(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import ncclient").Run(); err != nil {
		t.Fatal("python3-ncclient missing: apt-get install python3-ncclient")
	}
	g := startGateway(t, "node1", 17620)
	if msg := g.configureVRF(t, haXML(1, freeTCPPort(t), haSecret, "")); msg != "" {
		t.Fatal(msg)
	}
	host, port, _ := net.SplitHostPort(g.d.Addr().String())
	script := `
import sys
from ncclient import manager
from ncclient.xml_ import to_ele
m = manager.connect(host=sys.argv[1], port=int(sys.argv[2]), username="admin", password=sys.argv[3],
                    hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=20)
m.create_subscription()
m.dispatch(to_ele('<ha-notify xmlns="urn:secgw:yang:secgw-ha"><group>g1</group><state>master</state></ha-notify>'))
while True:
    n = m.take_notification(timeout=10)
    if n is None:
        print("NONE")
        break
    if "ha-role-change" in n.notification_xml:
        print("EVENT", n.notification_xml.replace("\n", ""))
        break
m.close_session()
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, host, port, g.d.CreatedPassword()).CombinedOutput()
	if err != nil {
		t.Fatalf("ncclient: %v\n%s", err, out)
	}
	want := `<ha-role-change xmlns="urn:secgw:yang:secgw-ha"><vrf>main</vrf><role>active</role><previous-role>init</previous-role><reason>vrrp master</reason></ha-role-change>`
	if !strings.Contains(string(out), want) {
		t.Fatalf("no ha-role-change notification:\n%s\nwant %s", out, want)
	}
}
