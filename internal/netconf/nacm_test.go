package netconf

import (
	"strings"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/nacm"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

var (
	testValidatorOnce sync.Once
	testValidatorV    *validate.Validator
)

// testValidator is a validator of the schema, built once.
func testValidator(t *testing.T) *validate.Validator {
	t.Helper()
	testValidatorOnce.Do(func() {
		s, err := schema.Load()
		if err != nil {
			panic(err)
		}
		if testValidatorV, err = validate.New(s); err != nil {
			panic(err)
		}
	})
	return testValidatorV
}

// nacmDevice is a tree with /nacm: group ops {alice}, and rule-list
// r of group ops with rules, in the order given (each named by its Name).
func nacmDevice(t *testing.T, rules ...*generated.IETFNetconfAcm_Nacm_RuleList_Rule) *generated.Device {
	t.Helper()
	d := &generated.Device{}
	n := d.GetOrCreateNacm()
	n.GetOrCreateGroups().GetOrCreateGroup("ops").UserName = []string{"alice"}
	rl, err := n.AppendNewRuleList("r")
	if err != nil {
		t.Fatal(err)
	}
	rl.Group = []string{"ops"}
	for _, r := range rules {
		if err := rl.AppendRule(r); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func str(s string) *string { return &s }

// TestPolicyOf: /nacm becomes the policy: rules in the order the
// operator wrote them (not their names'), the defaults of RFC 8341 for unset leaves, paths with key
// predicates naming one entry (keys in canonical form), and paths that
// name no node refused.
func TestPolicyOf(t *testing.T) {
	alice := nacm.User{Name: "alice", Role: RoleReadOnly}
	d := nacmDevice(t,
		&generated.IETFNetconfAcm_Nacm_RuleList_Rule{Name: str("20-allow"), Path: str("/sv:vrf/ike"), AccessOperations: str("update create"), Action: generated.IETFNetconfAcm_ActionType_permit},
		&generated.IETFNetconfAcm_Nacm_RuleList_Rule{Name: str("10-deny"), Path: str("/vrf"), Action: generated.IETFNetconfAcm_ActionType_deny},
	)
	p, err := policyOf(d, testValidator(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Data(alice, "secgw-ike", nacm.Names("vrf", "ike", "vpn"), nacm.Update, false) != nacm.Permit {
		t.Error("20-allow, written first, is not taken before 10-deny")
	}
	if p.Data(alice, "secgw-vrf", nacm.Names("vrf", "description"), nacm.Read, false) != nacm.Deny {
		t.Error("10-deny (access-operations unset: *) does not deny read")
	}
	if p.Disabled || p.ReadDefault != nacm.Permit || p.WriteDefault != nacm.Deny || p.ExecDefault != nacm.Permit {
		t.Errorf("unset defaults: %+v", p)
	}
	d.Nacm.ExecDefault = generated.IETFNetconfAcm_ActionType_deny
	d.Nacm.EnableNacm = new(bool)
	if p, _ = policyOf(d, testValidator(t)); !p.Disabled || p.ExecDefault != nacm.Deny {
		t.Errorf("enable-nacm false, exec-default deny: %+v", p)
	}
	keyed := nacmDevice(t,
		&generated.IETFNetconfAcm_Nacm_RuleList_Rule{Name: str("k"), Path: str("/vrf[name='main']/ike/vpn[name=\"acme\"]"), Action: generated.IETFNetconfAcm_ActionType_permit})
	p, err = policyOf(keyed, testValidator(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []nacm.Step{{Name: "vrf", Key: "main", Keyed: true}, {Name: "ike"}, {Name: "vpn", Key: "acme", Keyed: true}}
	if got := p.RuleLists[0].Rules[0].Path; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("keyed path: %+v, want %+v", got, want)
	}
	bad := nacmDevice(t,
		&generated.IETFNetconfAcm_Nacm_RuleList_Rule{Name: str("k"), Path: str("/vrf[name='main']/ike/vpnx"), Action: generated.IETFNetconfAcm_ActionType_permit})
	if _, err := policyOf(bad, testValidator(t)); err == nil || !strings.Contains(err.Error(), "no node vpnx under /vrf[name='main']/ike") {
		t.Errorf("a path naming no node: %v, want refused", err)
	}
}

// TestNACMLockout: rules must leave an admin who can log in able to
// edit-config, commit and write /aaa.
func TestNACMLockout(t *testing.T) {
	users := []User{{Name: "root", Role: RoleAdmin, Password: "$2a$10$x"}, {Name: "nokey", Role: RoleAdmin}}
	if err := nacmLockout(nacm.Default(), users); err != nil {
		t.Errorf("the predefined groups: %v", err)
	}
	for name, rule := range map[string]nacm.Rule{
		"aaa":    {Module: "*", Kind: nacm.DataNode, Path: nacm.Names("aaa"), Ops: nacm.Update, Action: nacm.Deny},
		"commit": {Module: "*", Kind: nacm.Operation, Target: "commit", Ops: nacm.Exec, Action: nacm.Deny},
		"edit":   {Module: "ietf-netconf", Kind: nacm.Operation, Target: "edit-config", Ops: nacm.All, Action: nacm.Deny},
		// Writing the rules themselves is guarded too: an admin who
		// cannot update /nacm or one of its rule-lists cannot undo a
		// bad rule.
		"nacm":      {Module: "*", Kind: nacm.DataNode, Path: nacm.Names("nacm"), Ops: nacm.Update, Action: nacm.Deny},
		"rule-list": {Module: "ietf-netconf-acm", Kind: nacm.DataNode, Path: nacm.Names("nacm", "rule-list"), Ops: nacm.Update, Action: nacm.Deny},
	} {
		p := nacm.Default()
		p.RuleLists = []nacm.RuleList{{Name: "x", Groups: []string{"admin"}, Rules: []nacm.Rule{rule}}}
		if err := nacmLockout(p, users); err == nil || !strings.Contains(err.Error(), "no admin able") {
			t.Errorf("rule %s locks the admins out: got %v, want the lockout error", name, err)
		}
		// Another admin, in a group the rule does not name, keeps access.
		p.Groups = map[string][]string{"locked": {"root"}}
		p.RuleLists[0].Groups = []string{"locked"}
		if err := nacmLockout(p, append(users, User{Name: "spare", Role: RoleAdmin, Keys: []string{"k"}})); err != nil {
			t.Errorf("rule %s with a spare admin: %v", name, err)
		}
	}
}
