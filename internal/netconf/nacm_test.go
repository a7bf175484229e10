package netconf

import (
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/nacm"
)

// nacmDevice is a tree with /aaa/nacm: group ops {alice}, and rule-list
// r of group ops with rules named so that their name order decides.
func nacmDevice(t *testing.T, rules map[string]*generated.SecgwAaa_Aaa_Nacm_RuleList_Rule) *generated.Device {
	t.Helper()
	d := &generated.Device{}
	n := d.GetOrCreateAaa().GetOrCreateNacm()
	n.GetOrCreateGroup("ops").UserName = []string{"alice"}
	rl := n.GetOrCreateRuleList("r")
	rl.Group = []string{"ops"}
	rl.Rule = map[string]*generated.SecgwAaa_Aaa_Nacm_RuleList_Rule{}
	for name, r := range rules {
		r.Name = &name
		rl.Rule[name] = r
	}
	return d
}

func str(s string) *string { return &s }

// TestPolicyOf: /aaa/nacm becomes the policy: rules in the order of
// their names, the defaults of RFC 8341 for unset leaves, and paths with
// key predicates refused.
func TestPolicyOf(t *testing.T) {
	alice := nacm.User{Name: "alice", Role: RoleReadOnly}
	d := nacmDevice(t, map[string]*generated.SecgwAaa_Aaa_Nacm_RuleList_Rule{
		"20-deny":  {Path: str("/vrf"), Action: generated.SecgwAaa_ActionType_deny},
		"10-allow": {Path: str("/sv:vrf/ike"), AccessOperations: str("update create"), Action: generated.SecgwAaa_ActionType_permit},
	})
	p, err := policyOf(d)
	if err != nil {
		t.Fatal(err)
	}
	if p.Data(alice, "secgw-ike", []string{"vrf", "ike", "vpn"}, nacm.Update, false) != nacm.Permit {
		t.Error("10-allow is not taken before 20-deny")
	}
	if p.Data(alice, "secgw-vrf", []string{"vrf", "description"}, nacm.Read, false) != nacm.Deny {
		t.Error("20-deny (access-operations unset: *) does not deny read")
	}
	if p.Disabled || p.ReadDefault != nacm.Permit || p.WriteDefault != nacm.Deny || p.ExecDefault != nacm.Permit {
		t.Errorf("unset defaults: %+v", p)
	}
	d.Aaa.Nacm.ExecDefault = generated.SecgwAaa_ActionType_deny
	d.Aaa.Nacm.EnableNacm = new(bool)
	if p, _ = policyOf(d); !p.Disabled || p.ExecDefault != nacm.Deny {
		t.Errorf("enable-nacm false, exec-default deny: %+v", p)
	}
	bad := nacmDevice(t, map[string]*generated.SecgwAaa_Aaa_Nacm_RuleList_Rule{
		"k": {Path: str("/vrf[name='main']/ike"), Action: generated.SecgwAaa_ActionType_permit},
	})
	if _, err := policyOf(bad); err == nil || !strings.Contains(err.Error(), "key predicates") {
		t.Errorf("a path with a key predicate: %v, want refused", err)
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
		"aaa":    {Module: "*", Kind: nacm.DataNode, Path: []string{"aaa"}, Ops: nacm.Update, Action: nacm.Deny},
		"commit": {Module: "*", Kind: nacm.Operation, Target: "commit", Ops: nacm.Exec, Action: nacm.Deny},
		"edit":   {Module: "ietf-netconf", Kind: nacm.Operation, Target: "edit-config", Ops: nacm.All, Action: nacm.Deny},
	} {
		p := nacm.Default()
		p.RuleLists = []nacm.RuleList{{Name: "x", Groups: []string{"admin"}, Rules: []nacm.Rule{rule}}}
		if err := nacmLockout(p, users); err == nil {
			t.Errorf("rule %s locks the admins out: not refused", name)
		}
		// Another admin, in a group the rule does not name, keeps access.
		p.Groups = map[string][]string{"locked": {"root"}}
		p.RuleLists[0].Groups = []string{"locked"}
		if err := nacmLockout(p, append(users, User{Name: "spare", Role: RoleAdmin, Keys: []string{"k"}})); err != nil {
			t.Errorf("rule %s with a spare admin: %v", name, err)
		}
	}
}
