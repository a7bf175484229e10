package netconf

import (
	"strings"
	"testing"

	"secgw/internal/ncclient"
)

// nacmNS declares ietf-netconf-acm's namespace (RFC 8341) as the default.
const nacmNS = `xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm"`

// editNACM is an edit-config of /nacm with group ops {reader} and
// the rule-list ops holding rules (XML).
func editNACM(rules string) string {
	return `<edit-config><target><candidate/></target><config><nacm ` + nacmNS + `>` +
		`<groups><group><name>ops</name><user-name>reader</user-name></group></groups>` +
		`<rule-list><name>ops</name><group>ops</group>` + rules + `</rule-list></nacm></config></edit-config>`
}

// ruleXML is one rule of a rule-list.
func ruleXML(name, path, ops, action string) string {
	return `<rule><name>` + name + `</name><path>` + path + `</path><access-operations>` + ops +
		`</access-operations><action>` + action + `</action></rule>`
}

// twoVPNs commits VPNs hq and acme of vrf main, each with a remote
// address and a pre-shared key, as admin.
func twoVPNs(t *testing.T, f *fixture) {
	t.Helper()
	admin := dial(t, f.addr, "admin", "secret-admin")
	for _, rpc := range []string{editIKE(
		`<vpn><name>hq</name><remote-address>198.51.100.1</remote-address><ike-policy><pre-shared-key>hq-key-1</pre-shared-key></ike-policy></vpn>` +
			`<vpn><name>acme</name><remote-address>198.51.100.2</remote-address><ike-policy><pre-shared-key>acme-key-1</pre-shared-key></ike-policy></vpn>`),
		`<commit/>`} {
		if _, err := exec1(t, admin, rpc); err != nil {
			t.Fatal(err)
		}
	}
}

func getConfig(filter string) string {
	return `<get-config><source><running/></source>` + filter + `</get-config>`
}

func subtree(ike string) string {
	return `<filter type="subtree"><vrf ` + vrfNS + `><name>main</name><ike ` + ikeNS + `>` + ike + `</ike></vrf></filter>`
}

func xpathSel(expr string) string {
	return `<filter type="xpath" select="` + expr + `"/>`
}

// TestNACMFilteredReads: get-config and get under RFC 8341 read rules
// with subtree and xpath filters. The reader's group may not read VPN
// acme of vrf main (a keyed path), nor any VPN's remote-address (a
// schema path), and may read hq's pre-shared key (a keyed path granting
// a secret). The filters apply to what the reader may read (RFC 8341
// §3.2.4): a content match node or an xpath predicate on a denied node
// selects nothing, so neither reveals that the node exists nor what it
// holds; a filter naming acme returns nothing.
func TestNACMFilteredReads(t *testing.T) {
	f := start(t)
	twoVPNs(t, f)
	admin := dial(t, f.addr, "admin", "secret-admin")
	for _, rpc := range []string{editNACM(
		ruleXML("10-no-acme", "/vrf[name='main']/ike/vpn[name='acme']", "read", "deny") +
			ruleXML("20-no-remote", "/vrf/ike/vpn/remote-address", "read", "deny") +
			ruleXML("30-hq-key", "/sv:vrf[sv:name='main']/ike:ike/vpn[name=&quot;hq&quot;]/ike-policy/pre-shared-key", "read", "permit")),
		`<commit/>`} {
		if _, err := exec1(t, admin, rpc); err != nil {
			t.Fatal(err)
		}
	}
	reader := dial(t, f.addr, "reader", "secret-reader")
	read := func(what, rpc string, s *ncclient.Session) string {
		t.Helper()
		got, err := exec1(t, s, rpc)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return got
	}
	type check struct {
		what, rpc string
		want      []string // substrings of the reply
		not       []string // nor these
	}
	const hqName, acmeName = "<name>hq</name>", "<name>acme</name>"
	for _, c := range []check{
		{"whole get-config", getConfig(""), []string{hqName, "hq-key-1"}, []string{acmeName, "acme-key-1", "198.51.100."}},
		{"whole get", `<get/>`, []string{hqName, "hq-key-1"}, []string{acmeName, "acme-key-1", "198.51.100."}},
		{"subtree: every vpn", getConfig(subtree(`<vpn/>`)), []string{hqName, "hq-key-1"}, []string{acmeName, "198.51.100."}},
		{"subtree: acme by key", getConfig(subtree(`<vpn><name>acme</name></vpn>`)), nil, []string{acmeName, "<vpn"}},
		{"subtree: content match on a denied leaf", getConfig(subtree(`<vpn><remote-address>198.51.100.1</remote-address></vpn>`)), nil, []string{hqName, "<vpn"}},
		{"subtree: content match on a denied leaf, with a selection", getConfig(subtree(`<vpn><remote-address>198.51.100.1</remote-address><name/></vpn>`)), nil, []string{hqName, "<vpn"}},
		{"subtree: a denied leaf selected, as if absent", getConfig(subtree(`<vpn><name>hq</name><remote-address/></vpn>`)), []string{hqName}, []string{"198.51.100."}},
		{"subtree: content match on a granted secret", getConfig(subtree(`<vpn><ike-policy><pre-shared-key>hq-key-1</pre-shared-key></ike-policy></vpn>`)), []string{hqName}, []string{acmeName}},
		{"xpath: acme by key", getConfig(xpathSel(`/vrf/ike/vpn[name='acme']`)), nil, []string{acmeName, "<vpn"}},
		{"xpath: predicate on a denied leaf", getConfig(xpathSel(`/vrf/ike/vpn[remote-address='198.51.100.1']`)), nil, []string{hqName, "<vpn"}},
		{"xpath: a denied leaf's existence", getConfig(xpathSel(`/vrf/ike/vpn[remote-address]/name`)), nil, []string{hqName, "<vpn"}},
		{"xpath: a denied entry's leaf", getConfig(xpathSel(`/vrf/ike/vpn[starts-with(ike-policy/pre-shared-key, 'acme')]`)), nil, []string{acmeName, "<vpn"}},
		{"xpath: counting denied entries", getConfig(xpathSel(`/vrf[count(ike/vpn) = 2]/name`)), nil, []string{"<vrf"}},
		{"xpath: the readable entry", getConfig(xpathSel(`/vrf/ike/vpn[ike-policy/pre-shared-key='hq-key-1']/name`)), []string{hqName}, []string{acmeName, "hq-key-1"}},
		{"get with xpath: predicate on a denied leaf", `<get>` + xpathSel(`/vrf/ike/vpn[remote-address='198.51.100.1']`) + `</get>`, nil, []string{hqName, "<vpn"}},
	} {
		got := read(c.what, c.rpc, reader)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: want %s in\n%s", c.what, w, got)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %s in\n%s", c.what, n, got)
			}
		}
	}
	// The admin's reads are not narrowed by the reader's rules.
	for _, rpc := range []string{getConfig(subtree(`<vpn><remote-address>198.51.100.2</remote-address></vpn>`)),
		getConfig(xpathSel(`/vrf/ike/vpn[remote-address='198.51.100.2']`))} {
		if got := read("admin", rpc, admin); !strings.Contains(got, acmeName) || !strings.Contains(got, "acme-key-1") {
			t.Errorf("admin %s: want acme and its key:\n%s", rpc, got)
		}
	}
}

// TestNACMKeyedWrite: a rule path with key predicates grants writes to
// that VPN alone; the same edit of another VPN is access-denied with the
// node as error-path (RFC 8341 §3.4.5).
func TestNACMKeyedWrite(t *testing.T) {
	f := start(t)
	twoVPNs(t, f)
	admin := dial(t, f.addr, "admin", "secret-admin")
	for _, rpc := range []string{editNACM(
		`<rule><name>edit</name><module-name>ietf-netconf</module-name><rpc-name>edit-config</rpc-name><access-operations>exec</access-operations><action>permit</action></rule>` +
			`<rule><name>commit</name><module-name>ietf-netconf</module-name><rpc-name>commit</rpc-name><access-operations>exec</access-operations><action>permit</action></rule>` +
			ruleXML("hq", "/vrf[name='main']/ike/vpn[name='hq']", "create update delete", "permit")),
		`<commit/>`} {
		if _, err := exec1(t, admin, rpc); err != nil {
			t.Fatal(err)
		}
	}
	reader := dial(t, f.addr, "reader", "secret-reader")
	if _, err := exec1(t, reader, editIKE(`<vpn><name>hq</name><remote-address>198.51.100.9</remote-address></vpn>`)); err != nil {
		t.Fatalf("reader edits hq: %v", err)
	}
	_, err := exec1(t, reader, editIKE(`<vpn><name>acme</name><remote-address>198.51.100.9</remote-address></vpn>`))
	wantRPCError(t, "reader edits acme", err, "application", "access-denied", "/vrf:vrf[vrf:name='main']/ike:ike/ike:vpn[ike:name='acme']/ike:remote-address", "may not write remote-address", "")
	_, err = exec1(t, reader, editIKE(`<vpn><name>branch</name></vpn>`))
	wantRPCError(t, "reader creates another vpn", err, "application", "access-denied", "ike:vpn[ike:name='branch']", "may not write vpn", "")
	if _, err := exec1(t, reader, `<commit/>`); err != nil {
		t.Fatalf("reader commits hq: %v", err)
	}
	if got := f.store.Running().Vrf["main"].Ike.Vpn["hq"].GetRemoteAddress(); got != "198.51.100.9" {
		t.Errorf("hq's remote-address after the reader's commit: %q", got)
	}
}

// TestNACMRulePathRefused: a rule whose path does not parse, names no
// node, or puts a key on a node that is not a list (or a key value of
// the wrong type) is refused at validate and commit with invalid-value
// at the rule's path leaf, and a message saying what is wrong.
func TestNACMRulePathRefused(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	for path, msg := range map[string]string{
		"/vrf[name='main']/ike/vpnx":                   "no node vpnx under /vrf[name='main']/ike",
		"/vrf[name='main'":                             "does not parse",
		"/vrf/ike[name='x']":                           "/vrf/ike is not a list",
		"/vrf[id='main']":                              "the key of /vrf is name, not id",
		"/vrf/ike/global-options/threads/x":            "is a leaf",
		"/vrf/ike/vpn[name='a'][name='b']":             "one key predicate",
		"//vpn":                                        "does not parse",
		"/vrf/ike/vpn/local-ts/subnet[.='10.0.0.0/8']": "leaf-list",
	} {
		if _, err := exec1(t, admin, editNACM(ruleXML("bad", path, "read", "deny"))); err != nil {
			t.Fatalf("%s: edit-config: %v", path, err)
		}
		const where = "/ietf-netconf-acm:nacm/ietf-netconf-acm:rule-list[ietf-netconf-acm:name='ops']/ietf-netconf-acm:rule[ietf-netconf-acm:name='bad']/ietf-netconf-acm:path"
		_, err := exec1(t, admin, `<validate><source><candidate/></source></validate>`)
		wantRPCError(t, "validate "+path, err, "application", "invalid-value", where, msg, "")
		_, err = exec1(t, admin, `<commit/>`)
		wantRPCError(t, "commit "+path, err, "application", "invalid-value", where, msg, "")
		if _, err := exec1(t, admin, `<discard-changes/>`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNACMDeleteBelow: deleting or replacing a container needs delete
// access to what it holds (RFC 8341 §3.2.5): with /vrf/ike writable but
// VPN acme denied by a keyed rule, the reader may delete hq, not the ike
// container that holds acme, nor replace it by one without acme; the
// error names the edited node, not acme.
func TestNACMDeleteBelow(t *testing.T) {
	f := start(t)
	twoVPNs(t, f)
	admin := dial(t, f.addr, "admin", "secret-admin")
	for _, rpc := range []string{editNACM(
		`<rule><name>edit</name><module-name>ietf-netconf</module-name><rpc-name>edit-config</rpc-name><access-operations>exec</access-operations><action>permit</action></rule>` +
			ruleXML("a-no-acme", "/vrf[name='main']/ike/vpn[name='acme']", "*", "deny") +
			ruleXML("b-ike", "/vrf/ike", "*", "permit")),
		`<commit/>`} {
		if _, err := exec1(t, admin, rpc); err != nil {
			t.Fatal(err)
		}
	}
	reader := dial(t, f.addr, "reader", "secret-reader")
	const nc = `xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"`
	del := `<edit-config><target><candidate/></target><config><vrf ` + vrfNS + ` ` + nc + `><name>main</name><ike ` + ikeNS + ` nc:operation="delete"/></vrf></config></edit-config>`
	_, err := exec1(t, reader, del)
	wantRPCError(t, "delete of ike holding acme", err, "application", "access-denied", "/vrf:vrf[vrf:name='main']/ike:ike", "may not delete ike with what it holds", "")
	_, err = exec1(t, reader, `<edit-config><target><candidate/></target><config><vrf `+vrfNS+` `+nc+`><name>main</name><ike `+ikeNS+` nc:operation="replace"><vpn><name>hq</name></vpn></ike></vrf></config></edit-config>`)
	wantRPCError(t, "replace of ike without acme", err, "application", "access-denied", "/vrf:vrf[vrf:name='main']/ike:ike", "with what it holds", "")
	if _, err := exec1(t, reader, `<edit-config><target><candidate/></target><config><vrf `+vrfNS+` `+nc+`><name>main</name><ike `+ikeNS+`><vpn nc:operation="delete"><name>hq</name></vpn></ike></vrf></config></edit-config>`); err != nil {
		t.Errorf("delete of hq: %v", err)
	}
	if _, err := exec1(t, reader, `<edit-config><target><candidate/></target><config><vrf `+vrfNS+` `+nc+`><name>main</name><ike `+ikeNS+`><vpn nc:operation="replace"><name>hq</name><remote-address>198.51.100.7</remote-address></vpn></ike></vrf></config></edit-config>`); err != nil {
		t.Errorf("replace of hq: %v", err)
	}
	if f.store.Candidate().Vrf["main"].Ike.Vpn["acme"] == nil {
		t.Error("acme is gone from the candidate")
	}
}
