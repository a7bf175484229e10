package netconf

import (
	"strings"
	"testing"
)

// editRuleList is an edit-config of rule-list ops of /nacm holding
// rules (XML), with the YANG attribute namespace declared as yang.
func editRuleList(rules string) string {
	return `<edit-config><target><candidate/></target><config><nacm ` + nacmNS + ` xmlns:yang="urn:ietf:params:xml:ns:yang:1">` +
		`<rule-list><name>ops</name>` + rules + `</rule-list></nacm></config></edit-config>`
}

// TestNACMRuleOrder: of two rules that match the same node, the one the
// operator wrote first decides (RFC 8341 §3.4.5, rules ordered-by user),
// not the one whose name sorts first; an edit-config that only moves a
// rule with the insert attribute (RFC 7950 §7.8.6) is a commit that
// flips the outcome, and get-config shows the rules in their order. An
// insert next to a rule that does not exist is refused (RFC 7950 §15.7),
// and a move needs write access to the rule.
func TestNACMRuleOrder(t *testing.T) {
	f := start(t)
	twoVPNs(t, f)
	admin := dial(t, f.addr, "admin", "secret-admin")
	run := func(rpcs ...string) {
		t.Helper()
		for _, rpc := range rpcs {
			if _, err := exec1(t, admin, rpc); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(editNACM(ruleXML("z-permit", "/vrf/ike/vpn/remote-address", "read", "permit")+
		ruleXML("a-deny", "/vrf/ike/vpn/remote-address", "read", "deny")), `<commit/>`)
	reader := dial(t, f.addr, "reader", "secret-reader")
	readsAddress := func() bool {
		t.Helper()
		got, err := exec1(t, reader, getConfig(subtree(`<vpn><name>hq</name></vpn>`)))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(got, "198.51.100.1")
	}
	if !readsAddress() {
		t.Fatal("z-permit, written first, does not decide: a-deny (first by name) did")
	}
	got, err := exec1(t, admin, getConfig(`<filter type="subtree"><nacm `+nacmNS+`><rule-list/></nacm></filter>`))
	if err != nil {
		t.Fatal(err)
	}
	if z, a := strings.Index(got, "<name>z-permit</name>"), strings.Index(got, "<name>a-deny</name>"); z < 0 || a < z {
		t.Errorf("get-config does not show the rules in their order:\n%s", got)
	}

	run(editRuleList(`<rule yang:insert="first"><name>a-deny</name></rule>`), `<commit/>`)
	if readsAddress() {
		t.Error("after moving a-deny first, the reader still reads the remote-address")
	}
	run(editRuleList(`<rule yang:insert="after" yang:key="[name='a-deny']"><name>z-permit</name></rule>`), `<commit/>`)
	if readsAddress() {
		t.Error("z-permit after a-deny: the reader reads the remote-address")
	}
	run(editRuleList(`<rule yang:insert="before" yang:key="[name='a-deny']"><name>z-permit</name></rule>`), `<commit/>`)
	if !readsAddress() {
		t.Error("z-permit moved back before a-deny: the reader does not read the remote-address")
	}

	_, err = exec1(t, admin, editRuleList(`<rule yang:insert="before" yang:key="[name='nope']"><name>z-permit</name></rule>`))
	wantRPCError(t, "insert before a missing rule", err, "application", "missing-attribute",
		"/ietf-netconf-acm:nacm/ietf-netconf-acm:rule-list[ietf-netconf-acm:name='ops']/ietf-netconf-acm:rule[ietf-netconf-acm:name='z-permit']", "names no entry", "key")

	// A move is a write of the rule (update): a session permitted
	// edit-config but not to write /nacm may not reorder the rules.
	run(editRuleList(`<rule><name>edit</name><module-name>ietf-netconf</module-name><rpc-name>edit-config</rpc-name>`+
		`<access-operations>exec</access-operations><action>permit</action></rule>`), `<commit/>`)
	_, err = exec1(t, reader, editRuleList(`<rule yang:insert="first"><name>a-deny</name></rule>`))
	wantRPCError(t, "reader moves a rule", err, "application", "access-denied", "ietf-netconf-acm:rule[ietf-netconf-acm:name='a-deny']", "may not write rule", "")
}
