package netconf

import (
	"strings"
	"testing"
)

// TestNACMDeniedCounters: RFC 8341's denied-operations and
// denied-data-writes in <get> under /aaa/nacm count the operations and
// the datastore writes the rules denied (a kill-session without a rule;
// two edits of a VPN the reader may not write), once each.
func TestNACMDeniedCounters(t *testing.T) {
	f := start(t)
	twoVPNs(t, f)
	admin := dial(t, f.addr, "admin", "secret-admin")
	counters := func() string {
		t.Helper()
		out, err := exec1(t, admin, `<get><filter type="subtree"><aaa `+aaaNS+`><nacm><denied-operations/><denied-data-writes/><denied-notifications/></nacm></aaa></filter></get>`)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := counters(); !strings.Contains(got, "<denied-operations>0</denied-operations><denied-data-writes>0</denied-data-writes><denied-notifications>0</denied-notifications>") {
		t.Fatalf("counters before any denial:\n%s", got)
	}
	for _, rpc := range []string{editNACM(
		`<rule><name>edit</name><module-name>ietf-netconf</module-name><rpc-name>edit-config</rpc-name><access-operations>exec</access-operations><action>permit</action></rule>` +
			ruleXML("hq", "/vrf[name='main']/ike/vpn[name='hq']", "create update delete", "permit")),
		`<commit/>`} {
		if _, err := exec1(t, admin, rpc); err != nil {
			t.Fatal(err)
		}
	}
	reader := dial(t, f.addr, "reader", "secret-reader")
	for i := 0; i < 2; i++ {
		_, err := exec1(t, reader, editIKE(`<vpn><name>acme</name><remote-address>198.51.100.9</remote-address></vpn>`))
		wantRPCError(t, "reader edits acme", err, "application", "access-denied", "/vrf:vrf[vrf:name='main']/ike:ike/ike:vpn[ike:name='acme']/ike:remote-address", "may not write remote-address", "")
	}
	_, err := exec1(t, reader, `<kill-session><session-id>1</session-id></kill-session>`)
	wantRPCError(t, "reader kills a session", err, "application", "access-denied", "", "may not run kill-session", "")
	if got := counters(); !strings.Contains(got, "<denied-operations>1</denied-operations><denied-data-writes>2</denied-data-writes>") {
		t.Errorf("counters after one denied operation and two denied writes:\n%s", got)
	}
}
