package access

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secgw/internal/ncclient"
	"secgw/test/secgwdtest"
)

// nacmEdit is an edit-config of the candidate with /nacm content
// (ietf-netconf-acm, RFC 8341).
func nacmEdit(nacm string) string {
	return `<edit-config><target><candidate/></target><config><nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm">` +
		nacm + `</nacm></config></edit-config>`
}

// nacmRule is one rule: name, module-name, the rule-type leaf (rpc-name,
// notification-name or path, as XML), access-operations and action.
func nacmRule(name, module, kind, ops, action string) string {
	return `<rule><name>` + name + `</name><module-name>` + module + `</module-name>` + kind +
		`<access-operations>` + ops + `</access-operations><action>` + action + `</action></rule>`
}

const ikeThreads = `<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
	`<ike xmlns="urn:secgw:yang:secgw-ike"><global-options><threads>2</threads></global-options></ike></vrf></config></edit-config>`

const vrfDescription = `<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
	`<description>not alice's</description></vrf></config></edit-config>`

// nextNotification returns the next notification of s, failing after 10 s.
func nextNotification(t *testing.T, s *ncclient.Session, who string) string {
	t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() { b, err := s.NextNotification(); ch <- res{b, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: notification: %v", who, r.err)
		}
		return string(r.b)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no notification in 10 s", who)
	}
	return ""
}

// TestNACM: RFC 8341 rules over NETCONF through secgwd. alice (role
// read-only) is in group ops, whose rules let her edit /vrf/ike (data
// node rule, module secgw-ike), run edit-config and commit (operation
// rules), deny her get-schema (a denied rpc), /aaa (a denied subtree,
// left out of what she reads) and netconf-config-change (a denied
// notification). bob (read-only) sees no password hash until a rule of
// group auditors grants him /aaa/user: secrets are default-deny-all. A
// commit of rules that would leave no admin able to write /aaa is
// refused.
func TestNACM(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	fileAdmin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	const rootPW, alicePW, bobPW = "root-Secret-1", "alice-Secret-1", "bob-Secret-1"
	secgwdtest.MustRPC(t, fileAdmin, aaaEdit(aaaUser("root", "admin", "<password>"+rootPW+"</password>")+
		aaaUser("alice", "read-only", "<password>"+alicePW+"</password>")+
		aaaUser("bob", "read-only", "<password>"+bobPW+"</password>")))
	secgwdtest.MustRPC(t, fileAdmin, `<commit/>`)
	waitGone(t, fileAdmin, "the users file admin's session")
	root := secgwdtest.MustDial(t, d.Addr, "root", rootPW)

	// Lockout: a rule denying the admin group writes to /aaa is refused.
	secgwdtest.MustRPC(t, root, nacmEdit(`<rule-list><name>oops</name><group>admin</group>`+
		nacmRule("no-aaa", "*", "<path>/aaa</path>", "*", "deny")+`</rule-list>`))
	if _, err := secgwdtest.RPC(root, `<commit/>`); err == nil || !strings.Contains(err.Error(), "no admin able") {
		t.Fatalf("rules locking the admins out: %v, want the commit refused", err)
	}
	secgwdtest.MustRPC(t, root, `<discard-changes/>`)
	// So is one denying them commit.
	secgwdtest.MustRPC(t, root, nacmEdit(`<rule-list><name>oops</name><group>*</group>`+
		nacmRule("no-commit", "ietf-netconf", "<rpc-name>commit</rpc-name>", "exec", "deny")+`</rule-list>`))
	if _, err := secgwdtest.RPC(root, `<commit/>`); err == nil || !strings.Contains(err.Error(), "no admin able") {
		t.Fatalf("rules denying every commit: %v, want the commit refused", err)
	}
	secgwdtest.MustRPC(t, root, `<discard-changes/>`)

	// Before any rule: bob reads no hash, alice may not edit.
	bob := secgwdtest.MustDial(t, d.Addr, "bob", bobPW)
	if got := secgwdtest.MustRPC(t, bob, `<get-config><source><running/></source></get-config>`); strings.Contains(got, "password-hash") || !strings.Contains(got, "<name>alice</name>") {
		t.Errorf("read-only bob without rules: want the users, no hash:\n%s", got)
	}

	secgwdtest.MustRPC(t, root, nacmEdit(
		`<groups><group><name>ops</name><user-name>alice</user-name></group>`+
			`<group><name>auditors</name><user-name>bob</user-name></group></groups>`+
			`<rule-list><name>ops</name><group>ops</group>`+
			nacmRule("no-aaa", "*", "<path>/aaa</path>", "*", "deny")+
			nacmRule("ike", "secgw-ike", "<path>/vrf/ike</path>", "create read update delete", "permit")+
			nacmRule("edit", "ietf-netconf", "<rpc-name>edit-config</rpc-name>", "exec", "permit")+
			nacmRule("commit", "ietf-netconf", "<rpc-name>commit</rpc-name>", "exec", "permit")+
			nacmRule("no-schema", "*", "<rpc-name>get-schema</rpc-name>", "exec", "deny")+
			nacmRule("no-changes", "*", "<notification-name>netconf-config-change</notification-name>", "read", "deny")+
			`</rule-list>`+
			`<rule-list><name>audit</name><group>auditors</group>`+
			nacmRule("users", "secgw-aaa", "<path>/aaa/user</path>", "read", "permit")+
			`</rule-list>`))
	secgwdtest.MustRPC(t, root, `<commit/>`)

	alice := secgwdtest.MustDial(t, d.Addr, "alice", alicePW)
	bob = secgwdtest.MustDial(t, d.Addr, "bob", bobPW)

	// Data node rules: /vrf/ike yes, the rest of /vrf no (write-default).
	secgwdtest.MustRPC(t, alice, ikeThreads)
	secgwdtest.MustRPC(t, alice, `<commit/>`)
	if _, err := secgwdtest.RPC(alice, vrfDescription); err == nil || !strings.Contains(err.Error(), "may not") || !strings.Contains(err.Error(), "description") {
		t.Errorf("alice writes /vrf/description: %v, want access-denied naming it", err)
	}
	// ... and /aaa is neither written nor read.
	if _, err := secgwdtest.RPC(alice, aaaEdit(aaaUser("alice", "admin", ""))); err == nil || !strings.Contains(err.Error(), "may not") {
		t.Errorf("alice makes herself admin: %v, want access-denied", err)
	}
	got := secgwdtest.MustRPC(t, alice, `<get-config><source><running/></source></get-config>`)
	if strings.Contains(got, "secgw-aaa") || !strings.Contains(got, "<threads>2</threads>") {
		t.Errorf("alice's get-config: want /vrf/ike, no /aaa:\n%s", got)
	}
	if got := secgwdtest.MustRPC(t, alice, `<get/>`); strings.Contains(got, "<role>") {
		t.Errorf("alice's get shows /aaa:\n%s", got)
	}

	// Operation rules: get-schema denied to alice, still bob's.
	if _, err := secgwdtest.RPC(alice, `<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>secgw-aaa</identifier></get-schema>`); err == nil || !strings.Contains(err.Error(), "may not") {
		t.Errorf("alice's get-schema: %v, want access-denied", err)
	}
	secgwdtest.MustRPC(t, bob, `<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>secgw-aaa</identifier></get-schema>`)
	if _, err := secgwdtest.RPC(bob, ikeThreads); err == nil || !strings.Contains(err.Error(), "may not") {
		t.Errorf("read-only bob edits: %v, want access-denied", err)
	}

	// Secrets: bob's auditors rule grants /aaa/user, hashes included.
	if got := secgwdtest.MustRPC(t, bob, `<get-config><source><running/></source></get-config>`); !strings.Contains(got, "<password-hash>$2a$10$") {
		t.Errorf("bob with a rule granting /aaa/user: want the hashes:\n%s", got)
	}

	// Notification rules: alice misses netconf-config-change, bob gets it.
	if err := alice.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if err := bob.Subscribe(); err != nil {
		t.Fatal(err)
	}
	secgwdtest.MustRPC(t, root, vrfDescription)
	secgwdtest.MustRPC(t, root, `<commit/>`)
	if n := nextNotification(t, bob, "bob"); !strings.Contains(n, "netconf-config-change") {
		t.Errorf("bob: want netconf-config-change first, got\n%s", n)
	}
	// A session start after it: alice's first notification.
	secgwdtest.MustDial(t, d.Addr, "root", rootPW)
	if n := nextNotification(t, alice, "alice"); strings.Contains(n, "netconf-config-change") || !strings.Contains(n, "netconf-session-start") {
		t.Errorf("alice: want netconf-session-start, not the config change:\n%s", n)
	}
}
