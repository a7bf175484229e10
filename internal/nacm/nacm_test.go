package nacm

import "testing"

var (
	admin  = User{Name: "root", Role: GroupAdmin}
	reader = User{Name: "ro", Role: GroupReadOnly}
	alice  = User{Name: "alice", Role: GroupReadOnly}
)

// custom is a policy where alice (role read-only) is in group ops, which
// may edit /vrf/ike but not /aaa, run edit-config and commit, read the
// PSKs of /vrf/ike, and gets no sa-event notification.
func custom() *Policy {
	p := Default()
	p.Groups = map[string][]string{"ops": {"alice"}}
	p.RuleLists = []RuleList{{Name: "ops", Groups: []string{"ops"}, Rules: []Rule{
		{Name: "no-aaa", Module: "*", Kind: DataNode, Path: Names("aaa"), Ops: All, Action: Deny},
		{Name: "ike", Module: "secgw-ike", Kind: DataNode, Path: Names("vrf", "ike"), Ops: Create | Read | Update | Delete, Action: Permit},
		{Name: "edit", Module: "ietf-netconf", Kind: Operation, Target: "edit-config", Ops: Exec, Action: Permit},
		{Name: "commit", Module: "ietf-netconf", Kind: Operation, Target: "commit", Ops: Exec, Action: Permit},
		{Name: "no-events", Module: "*", Kind: Notification, Target: "sa-event", Ops: Read, Action: Deny},
	}}}
	return p
}

// TestPredefinedRoles: without rules the groups decide as the roles did.
func TestPredefinedRoles(t *testing.T) {
	p := Default()
	for _, c := range []struct {
		u      User
		module string
		rpc    string
		want   Action
	}{
		{admin, "ietf-netconf", "edit-config", Permit},
		{admin, "ietf-netconf", "kill-session", Permit},
		{admin, "secgw-aaa", "set-password", Permit},
		{reader, "ietf-netconf", "get", Permit},
		{reader, "ietf-netconf", "get-config", Permit},
		{reader, "ietf-netconf", "close-session", Permit},
		{reader, "ietf-netconf-monitoring", "get-schema", Permit},
		{reader, "notifications", "create-subscription", Permit},
		{reader, "ietf-netconf", "edit-config", Deny},
		{reader, "ietf-netconf", "lock", Deny},
		{reader, "secgw-ike", "clear-ike-sa", Deny},
		{reader, "secgw-aaa", "set-password", Deny},
	} {
		if got := p.Exec(c.u, c.module, c.rpc, false); got != c.want {
			t.Errorf("Exec(%s, %s:%s) = %v, want %v", c.u.Role, c.module, c.rpc, got, c.want)
		}
	}
	psk := Names("vrf", "ike", "vpn", "pre-shared-key")
	if p.Data(admin, "secgw-ike", psk, Read, true) != Permit {
		t.Error("admin cannot read a secret")
	}
	if p.Data(reader, "secgw-ike", psk, Read, true) != Deny {
		t.Error("read-only reads a secret")
	}
	if p.Data(reader, "secgw-ike", psk[:3], Read, false) != Permit {
		t.Error("read-only cannot read a vpn")
	}
	for _, op := range []Ops{Create, Update, Delete} {
		if p.Data(reader, "secgw-ike", psk[:3], op, false) != Deny {
			t.Errorf("read-only may %v", op)
		}
		if p.Data(admin, "secgw-aaa", Names("aaa", "user"), op, false) != Permit {
			t.Errorf("admin may not %v /aaa/user", op)
		}
	}
	if p.Notify(reader, "secgw-ike", "sa-event") != Permit {
		t.Error("read-only gets no notification")
	}
}

// TestOperationRules: protocol-operation rules, before the predefined.
func TestOperationRules(t *testing.T) {
	p := custom()
	if p.Exec(alice, "ietf-netconf", "edit-config", false) != Permit {
		t.Error("alice may not edit-config")
	}
	if p.Exec(alice, "ietf-netconf", "delete-config", false) != Deny {
		t.Error("alice may delete-config")
	}
	if p.Exec(reader, "ietf-netconf", "edit-config", false) != Deny {
		t.Error("a rule of group ops applies to a user outside it")
	}
	if p.Exec(alice, "ietf-netconf", "close-session", false) != Permit {
		t.Error("close-session is denied")
	}
	deny := Default()
	deny.RuleLists = []RuleList{{Name: "x", Groups: []string{"*"}, Rules: []Rule{{Name: "x", Module: "*", Kind: Operation, Target: "close-session", Ops: Exec, Action: Deny}}}}
	if deny.Exec(admin, "ietf-netconf", "close-session", false) != Permit {
		t.Error("close-session can be denied (RFC 8341 §3.4.4 step 2)")
	}
}

// TestDataNodeRules: path rules cover the node and its descendants; the
// first match decides; secrets need a matching rule.
func TestDataNodeRules(t *testing.T) {
	p := custom()
	vpn := Names("vrf", "ike", "vpn")
	for _, op := range []Ops{Create, Read, Update, Delete} {
		if p.Data(alice, "secgw-ike", vpn, op, false) != Permit {
			t.Errorf("alice may not %v a vpn", op)
		}
		if p.Data(alice, "secgw-aaa", Names("aaa", "user", "role"), op, false) != Deny {
			t.Errorf("alice may %v /aaa", op)
		}
	}
	if p.Data(alice, "secgw-ike", append(vpn, Step{Name: "pre-shared-key"}), Read, true) != Permit {
		t.Error("the rule over /vrf/ike does not grant its secret")
	}
	if p.Data(alice, "secgw-vrf", Names("vrf", "interface"), Update, false) != Deny {
		t.Error("alice may write outside /vrf/ike (write-default is deny)")
	}
	if p.Data(alice, "secgw-vrf", Names("vrf", "interface"), Read, false) != Permit {
		t.Error("alice may not read outside her rules (read-default is permit)")
	}
	if p.Data(alice, "secgw-ha", Names("ha", "secret"), Read, true) != Deny {
		t.Error("alice reads a secret no rule grants")
	}
	// module-name must match too.
	if p.Data(alice, "other", vpn, Update, false) != Deny {
		t.Error("a rule of module secgw-ike matched another module")
	}
}

// TestNotificationRules: notification rules and read-default.
func TestNotificationRules(t *testing.T) {
	p := custom()
	if p.Notify(alice, "secgw-ike", "sa-event") != Deny {
		t.Error("alice gets sa-event")
	}
	if p.Notify(alice, "secgw-ike", "peer-event") != Permit {
		t.Error("alice misses another notification")
	}
	if p.Notify(alice, "notifications", "replayComplete") != Permit {
		t.Error("replayComplete is filtered")
	}
	p.ReadDefault = Deny
	if p.Notify(reader, "secgw-ike", "peer-event") != Deny {
		t.Error("read-default deny does not filter notifications")
	}
}

// TestDefaults: exec-default, write-default, enable-nacm false.
func TestDefaults(t *testing.T) {
	p := custom()
	p.ExecDefault = Deny
	other := User{Name: "x", Role: "custom-only"}
	if p.Exec(other, "secgw-ike", "clear-ike-sa", false) != Deny {
		t.Error("exec-default deny ignored")
	}
	p.ExecDefault = Permit
	if p.Exec(other, "secgw-ike", "clear-ike-sa", false) != Permit {
		t.Error("exec-default permit ignored")
	}
	if p.Exec(other, "ietf-netconf", "kill-session", false) != Deny {
		t.Error("kill-session is not default-deny-all")
	}
	p.Disabled = true
	if p.Data(alice, "secgw-aaa", Names("aaa"), Read, false) != Permit {
		t.Error("enable-nacm false keeps the configured rules")
	}
	if p.Exec(reader, "ietf-netconf", "edit-config", false) != Deny {
		t.Error("enable-nacm false gives read-only more than its role")
	}
}

func TestParse(t *testing.T) {
	if o, ok := ParseOps("read update"); !ok || o != Read|Update {
		t.Errorf("ParseOps = %v %v", o, ok)
	}
	if _, ok := ParseOps("read write"); ok {
		t.Error("ParseOps accepts write")
	}
}

// entry is the step of list name's entry of key k.
func entry(name, k string) Step { return Step{Name: name, Key: k, Keyed: true} }

// TestKeyedPaths: a rule path with key predicates covers that entry and
// its descendants only; without a key, a list step covers every entry
// (RFC 8341 node-instance-identifier). Rules still go first to last:
// the keyed deny before the unkeyed permit hides acme alone.
func TestKeyedPaths(t *testing.T) {
	p := Default()
	p.Groups = map[string][]string{"ops": {"alice"}}
	acme := []Step{entry("vrf", "main"), {Name: "ike"}, entry("vpn", "acme")}
	p.RuleLists = []RuleList{{Name: "ops", Groups: []string{"ops"}, Rules: []Rule{
		{Name: "no-acme", Module: "*", Kind: DataNode, Path: acme, Ops: All, Action: Deny},
		{Name: "vpns", Module: "*", Kind: DataNode, Path: Names("vrf", "ike", "vpn"), Ops: All, Action: Permit},
	}}}
	under := func(steps ...Step) []Step { return append(append([]Step(nil), acme[:2]...), steps...) }
	for _, c := range []struct {
		what string
		path []Step
		want Action
	}{
		{"acme", acme, Deny},
		{"acme's psk", append(append([]Step(nil), acme...), Step{Name: "pre-shared-key"}), Deny},
		{"hq", under(entry("vpn", "hq")), Permit},
		{"hq's remote", under(entry("vpn", "hq"), Step{Name: "remote-address"}), Permit},
		{"acme in vrf red", []Step{entry("vrf", "red"), {Name: "ike"}, entry("vpn", "acme")}, Permit},
		{"the vpn list as a whole", under(Step{Name: "vpn"}), Permit},
		{"ike itself (write-default deny)", acme[:2], Deny},
		{"a key that extends acme's", under(entry("vpn", "acme2")), Permit},
	} {
		op := Update
		if got := p.Data(alice, "secgw-ike", c.path, op, false); got != c.want {
			t.Errorf("%s: %v, want %v", c.what, got, c.want)
		}
	}
	// Read: the same rules, and read-default for what they do not cover.
	if p.Data(alice, "secgw-ike", acme, Read, false) != Deny || p.Data(alice, "secgw-ike", acme[:2], Read, false) != Permit {
		t.Error("read of acme (denied) or of /vrf/ike (read-default permit)")
	}
}

// TestAccessOrder: For takes the configured rule-lists of the user's
// groups in order, then the predefined ones; rule-lists of other groups
// do not apply.
func TestAccessOrder(t *testing.T) {
	p := Default()
	p.Groups = map[string][]string{"ops": {"alice"}, "other": {"bob"}}
	p.RuleLists = []RuleList{
		{Name: "b", Groups: []string{"other"}, Rules: []Rule{{Name: "x", Module: "*", Ops: All, Action: Permit}}},
		{Name: "z", Groups: []string{"ops"}, Rules: []Rule{{Name: "x", Module: "*", Kind: DataNode, Path: Names("vrf"), Ops: All, Action: Deny}}},
		{Name: "a", Groups: []string{"*"}, Rules: []Rule{{Name: "x", Module: "*", Kind: DataNode, Path: Names("vrf"), Ops: All, Action: Permit}}},
	}
	a := p.For(alice)
	if len(a.lists) != 3 || a.lists[0].Name != "z" || a.lists[1].Name != "a" || a.lists[2].Name != "predefined-read-only" {
		var names []string
		for _, l := range a.lists {
			names = append(names, l.Name)
		}
		t.Fatalf("alice's rule-lists %v, want z a predefined-read-only", names)
	}
	if a.Data("secgw-vrf", Names("vrf"), Read, false) != Deny {
		t.Error("rule-list z (first in order) does not decide")
	}
}

// TestUniform: a delete of a subtree may skip its descendants only when
// the rule deciding the node decides them all.
func TestUniform(t *testing.T) {
	p := Default()
	p.Groups = map[string][]string{"ops": {"alice"}}
	acme := []Step{entry("vrf", "main"), {Name: "ike"}, entry("vpn", "acme")}
	p.RuleLists = []RuleList{{Name: "ops", Groups: []string{"ops"}, Rules: []Rule{
		{Name: "no-acme", Module: "*", Kind: DataNode, Path: acme, Ops: Delete, Action: Deny},
		{Name: "no-red", Module: "*", Kind: DataNode, Path: []Step{entry("vrf", "red")}, Ops: All, Action: Deny},
		{Name: "ike-mod", Module: "secgw-ike", Kind: DataNode, Path: Names("vrf"), Ops: All, Action: Deny},
		{Name: "vrf", Module: "*", Kind: DataNode, Path: Names("vrf"), Ops: All, Action: Permit},
	}}}
	a := p.For(alice)
	for _, c := range []struct {
		what   string
		module string
		path   []Step
		want   bool
	}{
		{"ike of vrf main holds acme", "secgw-ike", acme[:2], false},
		{"vrf main holds acme", "secgw-vrf", acme[:1], false},
		{"vrf blue: a secgw-ike rule may match below", "secgw-vrf", []Step{entry("vrf", "blue")}, false},
		{"acme itself", "secgw-ike", acme, true},
		{"ike of vrf blue", "secgw-ike", []Step{entry("vrf", "blue"), {Name: "ike"}}, true},
		{"vrf red", "secgw-vrf", []Step{entry("vrf", "red")}, true},
		{"aaa: read-only's predefined no-write decides", "secgw-aaa", Names("aaa"), true},
	} {
		if got := a.Uniform(c.module, c.path, Delete); got != c.want {
			t.Errorf("%s: Uniform = %v, want %v", c.what, got, c.want)
		}
	}
	if !Default().For(admin).Uniform("secgw-vrf", Names("vrf"), Delete) {
		t.Error("the admin's predefined rule decides everything below")
	}
	if Default().For(User{Name: "x", Role: "custom"}).Uniform("secgw-vrf", Names("vrf"), Delete) {
		t.Error("no rule matches: write-default decides the node, and a secret below is default-deny-all")
	}
}
