package netconf

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// NETCONF conformance gaps an outside client found, each with the clause of the RFC it
// checks; test/e2e/conformance_*_test.go checks them with real clients.

// wantRPCError checks that err is an rpc-error with these fields; path
// and info are substrings ("" for any), msg a substring of the message.
func wantRPCError(t *testing.T, what string, err error, typ, tag, path, msg, info string) {
	t.Helper()
	var re *gonetconf.RPCError
	if !errors.As(err, &re) {
		t.Errorf("%s: %v, want an rpc-error %s %s", what, err, typ, tag)
		return
	}
	if re.Type != typ || re.Tag != tag || !strings.Contains(re.Path, path) || !strings.Contains(re.Message, msg) || !strings.Contains(re.Info, info) {
		t.Errorf("%s: rpc-error type=%q tag=%q path=%q message=%q info=%q, want %s %s path %q message %q info %q",
			what, re.Type, re.Tag, re.Path, re.Message, re.Info, typ, tag, path, msg, info)
	}
}

const vrfNS = `xmlns="urn:secgw:yang:secgw-vrf"`

func editIKE(ike string) string {
	return `<edit-config><target><candidate/></target><config><vrf ` + vrfNS + `><name>main</name><ike ` + ikeNS + `>` +
		ike + `</ike></vrf></config></edit-config>`
}

// TestConformanceLockRunningDuringConfirmedCommit: RFC 6241 §7.5, a lock
// MUST NOT be granted when "the target configuration is <running>, and
// another NETCONF session has an ongoing confirmed commit".
func TestConformanceLockRunningDuringConfirmedCommit(t *testing.T) {
	f := start(t)
	a := dial(t, f.addr, "admin", "secret-admin")
	b := dial(t, f.addr, "admin", "secret-admin")
	for _, op := range []string{editIKE(`<global-options><threads>4</threads></global-options>`),
		`<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>`} {
		if _, err := exec1(t, a, op); err != nil {
			t.Fatal(err)
		}
	}
	lockRunning := `<lock><target><running/></target></lock>`
	_, err := exec1(t, b, lockRunning)
	wantRPCError(t, "lock of running during another session's confirmed commit", err,
		"protocol", "lock-denied", "", "confirmed commit", "<session-id>"+strconv.Itoa(a.SessionID)+"</session-id>")
	if _, err := exec1(t, a, lockRunning); err != nil {
		t.Errorf("the session of the confirmed commit locks running: %v", err)
	} else if _, err := exec1(t, a, `<unlock><target><running/></target></unlock>`); err != nil {
		t.Fatal(err)
	}
	if _, err := exec1(t, a, `<commit/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := exec1(t, b, lockRunning); err != nil {
		t.Errorf("lock of running once the commit is confirmed: %v", err)
	}
}

// TestConformanceTwoSources: RFC 6241 §7.1, source names the one
// datastore queried (a choice in ietf-netconf): two are an error, not
// the first one served. The same holds for every source and target.
func TestConformanceTwoSources(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	for _, c := range []struct{ what, rpc, elem string }{
		{"get-config", `<get-config><source><running/><candidate/></source></get-config>`, "source"},
		{"get-config, the same twice", `<get-config><source><running/><running/></source></get-config>`, "source"},
		{"validate", `<validate><source><candidate/><running/></source></validate>`, "source"},
		{"lock", `<lock><target><candidate/><running/></target></lock>`, "target"},
		{"copy-config", `<copy-config><target><candidate/></target><source><running/><candidate/></source></copy-config>`, "source"},
		{"edit-config", `<edit-config><target><candidate/><running/></target><config/></edit-config>`, "target"},
	} {
		_, err := exec1(t, admin, c.rpc)
		wantRPCError(t, c.what, err, "protocol", "bad-element", "", "exactly one datastore", "<bad-element>"+c.elem+"</bad-element>")
	}
	_, err := exec1(t, admin, `<get-config><source><bogus/></source></get-config>`)
	wantRPCError(t, "an unknown datastore", err, "protocol", "unknown-element", "", "not a datastore", "<bad-element>bogus</bad-element>")
	_, err = exec1(t, admin, `<get-config/>`)
	wantRPCError(t, "no source", err, "protocol", "missing-element", "", "no datastore", "<bad-element>source</bad-element>")
	if f.store.Dirty() {
		t.Error("a refused request changed the candidate")
	}
	if _, err := exec1(t, admin, `<get-config><source><running/></source></get-config>`); err != nil {
		t.Errorf("one source: %v", err)
	}
}

// TestConformanceXPathPrefixes: the prefixes of an xpath filter resolve
// against the namespace declarations in scope on <filter> (RFC 6241
// §8.9.1); an undeclared prefix is an error (XPath 1.0 §2.3), and a
// prefix bound to another module's namespace selects nothing.
func TestConformanceXPathPrefixes(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	for _, op := range []string{editIKE(`<global-options><threads>4</threads></global-options>`), `<commit/>`} {
		if _, err := exec1(t, admin, op); err != nil {
			t.Fatal(err)
		}
	}
	const decls = ` xmlns:v="urn:secgw:yang:secgw-vrf" xmlns:i="urn:secgw:yang:secgw-ike"`
	get := func(filterAttrs, opAttrs string) (string, error) {
		return exec1(t, admin, `<get-config`+opAttrs+`><source><running/></source><filter type="xpath"`+filterAttrs+`/></get-config>`)
	}
	for _, c := range []struct {
		what, filter, op string
		threads          bool
	}{
		{"prefixes declared on filter", ` select="/v:vrf/i:ike/i:global-options/i:threads"` + decls, "", true},
		{"prefixes declared on get-config", ` select="/v:vrf/i:ike/i:global-options/i:threads"`, decls, true},
		{"unprefixed names", ` select="/vrf/ike/global-options/threads"`, "", true},
		{"prefix of another module", ` select="/i:vrf/i:ike/i:global-options/i:threads"` + decls, "", false},
		{"prefix of an unknown namespace", ` select="/x:vrf" xmlns:x="urn:example:none"`, "", false},
	} {
		data, err := get(c.filter, c.op)
		if err != nil {
			t.Errorf("%s: %v", c.what, err)
			continue
		}
		if got := strings.Contains(data, "<threads>4</threads>"); got != c.threads {
			t.Errorf("%s: threads selected = %v, want %v: %s", c.what, got, c.threads, data)
		}
	}
	_, err := get(` select="/v:vrf/q:ike"`+decls, "")
	wantRPCError(t, "an undeclared prefix", err, "application", "invalid-value", "", `prefix "q" is not declared`, "<bad-attribute>select</bad-attribute>")
	_, err = get(` select="/vrf[ike/i:global-options/i:threads = 4]"`, "")
	wantRPCError(t, "an undeclared prefix in a predicate", err, "application", "invalid-value", "", `prefix "i" is not declared`, "")
}

// TestConformanceXMLDeclInsideRPC: an XML declaration may only open a
// document (XML 1.0 §2.8), and the target xml is reserved for it (§2.6):
// one inside an <rpc> makes the message not well-formed, answered with
// malformed-message (RFC 6241 Appendix A; go-netconf speaks base:1.1), and
// nothing is done.
func TestConformanceXMLDeclInsideRPC(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	for _, rpc := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>` + editIKE(`<global-options><threads>4</threads></global-options>`),
		editIKE(`<global-options><threads>4<?xml version="1.0"?></threads></global-options>`),
		editIKE(`<global-options><?XML version="1.0"?><threads>4</threads></global-options>`),
	} {
		_, err := exec1(t, admin, rpc)
		wantRPCError(t, rpc, err, "rpc", "malformed-message", "", "XML declaration", "")
	}
	if f.store.Dirty() {
		t.Error("a malformed message changed the candidate")
	}
	// Other processing instructions are allowed where XML allows them.
	if _, err := exec1(t, admin, `<?secgw note?>`+editIKE(`<global-options><threads>4</threads></global-options>`)); err != nil {
		t.Errorf("a processing instruction that is not a declaration: %v", err)
	}
}

// TestConformanceEditDefersReferences: on the candidate, an edit's
// default test-option test-then-set checks the values against their
// types, and the references between nodes wait for validate and commit:
// "If the datastore is <candidate/>, the constraint enforcement is
// delayed until a <commit> or <validate> operation takes place" (RFC 7950
// §8.3.3). An operator pushes a VPN before the template it names, in
// separate edit-configs.
func TestConformanceEditDefersReferences(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	vpn := editIKE(`<vpn><name>hq</name><remote-address>198.51.100.1</remote-address><ike-policy><template>t1</template></ike-policy></vpn>`)
	for _, opt := range []string{"test-only", "test-then-set"} {
		if _, err := exec1(t, admin, strings.Replace(vpn, "<config>", "<test-option>"+opt+"</test-option><config>", 1)); err != nil {
			t.Fatalf("%s of a vpn naming a template not there yet: %v", opt, err)
		}
	}
	if _, err := exec1(t, admin, vpn); err != nil {
		t.Fatalf("default test-option: %v", err)
	}
	const missing = `no ike-policy-template with name "t1" exists`
	_, err := exec1(t, admin, `<validate><source><candidate/></source></validate>`)
	wantRPCError(t, "validate before the template", err, "application", "data-missing", "ike:template", missing, "")
	_, err = exec1(t, admin, `<commit/>`)
	wantRPCError(t, "commit before the template", err, "application", "data-missing", "ike:template", missing, "")

	// Types are still checked at edit time, and the edit refused whole.
	for _, opt := range []string{"", "<test-option>test-then-set</test-option>", "<test-option>test-only</test-option>"} {
		bad := strings.Replace(editIKE(`<global-options><threads>2</threads><retransmit-tries>101</retransmit-tries></global-options>`),
			"<config>", opt+"<config>", 1)
		_, err = exec1(t, admin, bad)
		wantRPCError(t, "a value out of range, "+opt, err, "application", "invalid-value", "ike:retransmit-tries", "101 is out of range 0..100", "")
	}
	if got := f.store.Candidate().Vrf["main"].GetIke().GetGlobalOptions().GetThreads(); got == 2 {
		t.Error("a refused edit left a part of it in the candidate")
	}

	if _, err := exec1(t, admin, editIKE(`<ike-policy-template><name>t1</name></ike-policy-template>`)); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{`<validate><source><candidate/></source></validate>`, `<commit/>`} {
		if _, err := exec1(t, admin, op); err != nil {
			t.Fatalf("%s once the template is there: %v", op, err)
		}
	}
	if f.store.Running().Vrf["main"].Ike.Vpn["hq"] == nil {
		t.Error("running lacks the vpn")
	}
}

// TestConformanceYangLibraryCapability: RFC 7950 §5.6.4, the server
// advertises yang-library:1.0 with the revision of ietf-yang-library it
// implements and the module-set-id that /modules-state holds; the
// yang-library content-id is the same (RFC 8525 §3), and every submodule
// the library lists is served by get-schema.
func TestConformanceYangLibraryCapability(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	var lib string
	for _, c := range admin.ServerCapabilities {
		if strings.HasPrefix(c, "urn:ietf:params:netconf:capability:yang-library:") {
			if lib != "" {
				t.Errorf("two yang-library capabilities: %q and %q", lib, c)
			}
			lib = c
		}
	}
	const prefix = "urn:ietf:params:netconf:capability:yang-library:1.0?revision=" + YangLibraryRevision + "&module-set-id="
	if !strings.HasPrefix(lib, prefix) || len(lib) == len(prefix) {
		t.Fatalf("yang-library capability %q, want %s<id>", lib, prefix)
	}
	id := strings.TrimPrefix(lib, prefix)
	data, err := exec1(t, admin, `<get><filter type="subtree"><modules-state xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/>`+
		`<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/></filter></get>`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(data, "<module-set-id>"+id+"</module-set-id>") {
		t.Errorf("modules-state's module-set-id differs from the hello's %s: %s", id, data)
	}
	if !strings.Contains(data, "<content-id>"+id+"</content-id>") {
		t.Errorf("yang-library's content-id differs from the hello's %s: %s", id, data)
	}
	subs := 0
	for _, part := range strings.Split(data, "<submodule><name>")[1:] {
		name, _, _ := strings.Cut(part, "<")
		subs++
		text, err := exec1(t, admin, `<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>`+name+`</identifier></get-schema>`)
		if err != nil || !strings.Contains(text, "submodule "+name) {
			t.Errorf("get-schema of submodule %s: %v", name, err)
		}
	}
	if subs == 0 {
		t.Error("the library lists no submodule (secgw-ike has some)")
	}
	// RFC 6022: every schema has its namespace, a submodule its module's.
	schemas, err := exec1(t, admin, `<get><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><schemas/></netconf-state></filter></get>`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(schemas, "<namespace></namespace>") ||
		!strings.Contains(schemas, "<identifier>secgw-ike-vpn</identifier><version>") {
		t.Errorf("schemas: %s", schemas)
	}
	if i := strings.Index(schemas, "<identifier>secgw-ike-vpn</identifier>"); i >= 0 {
		if entry, _, _ := strings.Cut(schemas[i:], "</schema>"); !strings.Contains(entry, "<namespace>urn:secgw:yang:secgw-ike</namespace>") {
			t.Errorf("secgw-ike-vpn's schema entry: %s", entry)
		}
	}
}
