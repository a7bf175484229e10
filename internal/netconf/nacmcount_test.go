package netconf

import (
	"strings"
	"testing"

	"secgw/internal/ncclient"
)

// TestNACMDeniedCounters: RFC 8341's denied-operations and
// denied-data-writes in <get> under /nacm count the operations and
// the datastore writes the rules denied (a kill-session without a rule;
// two edits of a VPN the reader may not write), once each.
func TestNACMDeniedCounters(t *testing.T) {
	f := start(t)
	twoVPNs(t, f)
	admin := dial(t, f.addr, "admin", "secret-admin")
	counters := func() string {
		t.Helper()
		out, err := exec1(t, admin, `<get><filter type="subtree"><nacm `+nacmNS+`><denied-operations/><denied-data-writes/><denied-notifications/></nacm></filter></get>`)
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

// TestNACMDefaultDenyAll: /nacm is default-deny-all (RFC 8341 §3.5): the
// read-only reader reads neither its counters (no rules configured) nor
// its rules (rules configured, none matching /nacm), and may not write
// it; the admin reads both. A configured rule that matches /nacm grants
// the reader read access to it.
func TestNACMDefaultDenyAll(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	reader := dial(t, f.addr, "reader", "secret-reader")
	get := func(s string, who string) string {
		t.Helper()
		out, err := exec1(t, map[string]*ncclient.Session{"admin": admin, "reader": reader}[who], s)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		return out
	}
	if got := get(`<get/>`, "reader"); strings.Contains(got, "denied-operations") {
		t.Errorf("reader's get, no rules: shows /nacm's counters:\n%s", got)
	}
	if got := get(`<get/>`, "admin"); !strings.Contains(got, "<denied-operations>") {
		t.Errorf("admin's get, no rules: no /nacm counters:\n%s", got)
	}
	for _, rpc := range []string{editNACM(ruleXML("ike", "/vrf/ike", "read", "permit")), `<commit/>`} {
		get(rpc, "admin")
	}
	if got := get(`<get-config><source><running/></source></get-config>`, "reader"); strings.Contains(got, "<nacm") {
		t.Errorf("reader's get-config shows /nacm, which no rule grants:\n%s", got)
	}
	if got := get(`<get/>`, "reader"); strings.Contains(got, "<nacm") {
		t.Errorf("reader's get shows /nacm, which no rule grants:\n%s", got)
	}
	if got := get(`<get-config><source><running/></source></get-config>`, "admin"); !strings.Contains(got, "<rule-list><name>ops</name>") {
		t.Errorf("admin's get-config lacks /nacm:\n%s", got)
	}
	for _, rpc := range []string{editNACM(ruleXML("nacm", "/nacm", "read", "permit")), `<commit/>`} {
		get(rpc, "admin")
	}
	if got := get(`<get-config><source><running/></source></get-config>`, "reader"); !strings.Contains(got, "<rule-list><name>ops</name>") {
		t.Errorf("reader's get-config, a rule granting /nacm: no rules shown:\n%s", got)
	}
}

// TestNACMExternalGroups: secgwd's SSH transport reports no groups, so
// enable-external-groups changes nothing either way: a user's groups are
// those of /nacm/groups (reader in ops, whose rule denies /vrf/ike) and
// the predefined one of its role (admin keeps every right).
func TestNACMExternalGroups(t *testing.T) {
	f := start(t)
	twoVPNs(t, f)
	admin := dial(t, f.addr, "admin", "secret-admin")
	reader := dial(t, f.addr, "reader", "secret-reader")
	run := func(s *ncclient.Session, who, rpc string) string {
		t.Helper()
		out, err := exec1(t, s, rpc)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		return out
	}
	setExt := func(v string) {
		t.Helper()
		run(admin, "admin", `<edit-config><target><candidate/></target><config><nacm `+nacmNS+`>`+
			`<enable-external-groups>`+v+`</enable-external-groups></nacm></config></edit-config>`)
		run(admin, "admin", `<commit/>`)
	}
	run(admin, "admin", editNACM(ruleXML("no-ike", "/vrf/ike", "read", "deny")))
	run(admin, "admin", `<commit/>`)
	for _, v := range []string{"false", "true"} {
		setExt(v)
		if got := run(reader, "reader", `<get-config><source><running/></source></get-config>`); strings.Contains(got, "<ike") {
			t.Errorf("enable-external-groups %s: reader (group ops from /nacm/groups) reads /vrf/ike:\n%s", v, got)
		}
		if got := run(reader, "reader", `<get-config><source><running/></source></get-config>`); !strings.Contains(got, "<vrf") {
			t.Errorf("enable-external-groups %s: reader (predefined read-only) reads nothing:\n%s", v, got)
		}
		if got := run(admin, "admin", `<get-config><source><running/></source></get-config>`); !strings.Contains(got, "<enable-external-groups>"+v) || !strings.Contains(got, "<ike") {
			t.Errorf("enable-external-groups %s: admin (predefined admin) cannot read /nacm and /vrf/ike:\n%s", v, got)
		}
	}
}
