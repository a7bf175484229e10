// Package nacm decides NETCONF access the way RFC 8341 (NETCONF Access
// Control Model) does: rule-lists of the user's groups, taken in order,
// each rule matching a protocol operation, a notification or a data node
// and granting or denying some access operations; when no rule matches,
// the defaults of §3.4 (read-default, write-default, exec-default, and
// the nodes marked default-deny-all) decide.
//
// The two roles of an account are predefined groups with built-in
// rule-lists, taken after the configured ones: "admin" may do
// everything, "read-only" may read everything but secrets and run only
// get, get-config, get-schema, close-session and create-subscription.
// With no rules configured a Policy decides as the roles always did.
//
// The package is pure: the NETCONF server builds a Policy from /nacm
// at each commit and asks it; nothing here reads the datastore.
package nacm

import (
	"slices"
	"strings"
)

// Action is what a rule (or a default) decides: RFC 8341 action-type.
type Action uint8

// The two actions.
const (
	Deny Action = iota
	Permit
)

func (a Action) String() string {
	if a == Permit {
		return "permit"
	}
	return "deny"
}

// Ops is a set of access operations (RFC 8341 access-operations-type).
type Ops uint8

// The access operations of RFC 8341 §2.3.
const (
	Create Ops = 1 << iota
	Read
	Update
	Delete
	Exec
	// All is "*": every operation.
	All = Create | Read | Update | Delete | Exec
)

// ParseOps parses access-operations: "*" or names separated by spaces.
func ParseOps(s string) (Ops, bool) {
	s = strings.TrimSpace(s)
	if s == "*" || s == "" {
		return All, true
	}
	var o Ops
	for _, f := range strings.Fields(s) {
		switch f {
		case "create":
			o |= Create
		case "read":
			o |= Read
		case "update":
			o |= Update
		case "delete":
			o |= Delete
		case "exec":
			o |= Exec
		default:
			return 0, false
		}
	}
	return o, true
}

// Kind is the rule-type choice of a rule (RFC 8341 §3.5.2, rule/rule-type).
type Kind uint8

// The rule types. A rule without rule-type matches every operation,
// notification and data node (RFC 8341 §3.4.4-3.4.6: "any").
const (
	Any Kind = iota
	Operation
	Notification
	DataNode
)

// Rule is one rule of a rule-list.
type Rule struct {
	Name string
	// Module is module-name: a YANG module name, or "*" (or empty) for
	// any module.
	Module string
	Kind   Kind
	// Name of the rpc (Operation) or notification (Notification), or
	// "*".
	Target string
	// Path, for DataNode, is the node the rule covers with its
	// descendants (RFC 8341 node-instance-identifier): its steps from the
	// root, a list step with a key naming one entry, without a key every
	// entry. An empty Path is "/": every node.
	Path   []Step
	Ops    Ops
	Action Action
}

// Step is one step of a data node's path from the root: the schema node
// name and, for a list entry, its key value in canonical form (Keyed).
// In a rule's Path, a list step without a key stands for every entry.
type Step struct {
	Name  string
	Key   string
	Keyed bool
}

// RuleList is one rule-list: the groups it applies to ("*": every
// group) and its rules in order.
type RuleList struct {
	Name   string
	Groups []string
	Rules  []Rule
}

// Policy is the access control in force.
type Policy struct {
	// Disabled is enable-nacm false: everything is permitted (RFC 8341
	// §3.2.1). The roles still apply: Disabled turns the configured
	// rules off, not the predefined groups, so that a read-only user
	// never gains more by it.
	Disabled bool
	// Defaults of RFC 8341 §3.2.1 (read permit, write deny, exec permit).
	ReadDefault, WriteDefault, ExecDefault Action
	// Groups maps a configured group to its user names.
	Groups map[string][]string
	// RuleLists are the configured rule-lists, in order.
	RuleLists []RuleList
}

// The predefined groups: the roles of /aaa/user.
const (
	GroupAdmin    = "admin"
	GroupReadOnly = "read-only"
)

// Default returns the policy with no configured rules: RFC 8341's
// defaults and the predefined groups only.
func Default() *Policy {
	return &Policy{ReadDefault: Permit, WriteDefault: Deny, ExecDefault: Permit}
}

// builtin are the rule-lists of the predefined groups, taken after the
// configured ones. read-only's exec list is the set of operations a
// read-only account always had.
var builtin = []RuleList{
	{Name: "predefined-admin", Groups: []string{GroupAdmin}, Rules: []Rule{
		{Name: "admin-all", Module: "*", Kind: Any, Ops: All, Action: Permit},
	}},
	{Name: "predefined-read-only", Groups: []string{GroupReadOnly}, Rules: []Rule{
		{Name: "get", Module: "ietf-netconf", Kind: Operation, Target: "get", Ops: Exec, Action: Permit},
		{Name: "get-config", Module: "ietf-netconf", Kind: Operation, Target: "get-config", Ops: Exec, Action: Permit},
		{Name: "get-schema", Module: "ietf-netconf-monitoring", Kind: Operation, Target: "get-schema", Ops: Exec, Action: Permit},
		{Name: "create-subscription", Module: "notifications", Kind: Operation, Target: "create-subscription", Ops: Exec, Action: Permit},
		{Name: "no-other-rpc", Module: "*", Kind: Operation, Target: "*", Ops: Exec, Action: Deny},
		{Name: "no-write", Module: "*", Kind: DataNode, Ops: Create | Update | Delete, Action: Deny},
	}},
}

// User is who asks: the account name and its role (a predefined group).
type User struct {
	Name string
	Role string
}

// Access is the policy as it applies to one user: the rule-lists of its
// groups, configured first (unless Disabled), then the predefined. It is
// computed once per request, so that a get checking every node of a
// large tree does not look up the groups at each node. Immutable, like
// its Policy.
type Access struct {
	p     *Policy
	lists []*RuleList
}

// For returns the access of u: its groups are its role and the
// configured groups naming it (RFC 8341 §3.2.2, group/user-name; §3.4.4
// step 5, the rule-lists of these groups in order).
func (p *Policy) For(u User) *Access {
	gs := []string{u.Role}
	for g, users := range p.Groups {
		if slices.Contains(users, u.Name) {
			gs = append(gs, g)
		}
	}
	a := &Access{p: p}
	add := func(lists []RuleList) {
		for i := range lists {
			rl := &lists[i]
			if slices.ContainsFunc(rl.Groups, func(g string) bool { return g == "*" || slices.Contains(gs, g) }) {
				a.lists = append(a.lists, rl)
			}
		}
	}
	if !p.Disabled {
		add(p.RuleLists)
	}
	add(builtin)
	return a
}

// match returns the action of the first rule that matches, in the
// rule-lists of the user's groups, RFC 8341 §3.4.4 steps 5-6.
func (a *Access) match(want func(*Rule) bool) (Action, bool) {
	for _, rl := range a.lists {
		for j := range rl.Rules {
			if r := &rl.Rules[j]; want(r) {
				return r.Action, true
			}
		}
	}
	return Deny, false
}

func moduleMatch(r *Rule, module string) bool {
	return r.Module == "" || r.Module == "*" || r.Module == module
}

func targetMatch(r *Rule, k Kind, name string) bool {
	return r.Kind == Any || (r.Kind == k && (r.Target == "*" || r.Target == name))
}

// Exec decides whether u may run rpc name of module (RFC 8341 §3.4.4).
// close-session is always permitted (step 2). denyAll is set for an
// operation the server treats as nacm:default-deny-all.
func (p *Policy) Exec(u User, module, name string, denyAll bool) Action {
	return p.For(u).Exec(module, name, denyAll)
}

// Exec is Policy.Exec for the user of a.
func (a *Access) Exec(module, name string, denyAll bool) Action {
	p := a.p
	if module == "ietf-netconf" && name == "close-session" {
		return Permit
	}
	if act, ok := a.match(func(r *Rule) bool {
		return r.Ops&Exec != 0 && moduleMatch(r, module) && targetMatch(r, Operation, name)
	}); ok {
		return act
	}
	// Step 8: kill-session and delete-config are default-deny-all.
	if denyAll || (module == "ietf-netconf" && (name == "kill-session" || name == "delete-config")) {
		return Deny
	}
	if p.Disabled {
		return Permit
	}
	return p.ExecDefault
}

// Notify decides whether u receives notification name of module (RFC
// 8341 §3.4.6): a notification rule with read, else read-default.
func (p *Policy) Notify(u User, module, name string) Action {
	return p.For(u).Notify(module, name)
}

// Notify is Policy.Notify for the user of a.
func (a *Access) Notify(module, name string) Action {
	p := a.p
	if module == "notifications" && (name == "replayComplete" || name == "notificationComplete") {
		return Permit
	}
	if act, ok := a.match(func(r *Rule) bool {
		return r.Ops&Read != 0 && moduleMatch(r, module) && targetMatch(r, Notification, name)
	}); ok {
		return act
	}
	if p.Disabled {
		return Permit
	}
	return p.ReadDefault
}

// ModuleNACM is the module of the access control's own data, /nacm,
// whose top container RFC 8341 §3.5 marks nacm:default-deny-all: every
// node of it is as a secret one, granted by a matching rule only.
const ModuleNACM = "ietf-netconf-acm"

// Data decides whether u may perform op (one of Create, Read, Update,
// Delete) on the data node at path, of module (RFC 8341 §3.4.5). secret
// marks a node carrying secgw-types:secret, which this server treats as
// nacm:default-deny-all: only a rule that matches it grants it; so are
// the nodes of ModuleNACM.
func (p *Policy) Data(u User, module string, path []Step, op Ops, secret bool) Action {
	return p.For(u).Data(module, path, op, secret)
}

// Data is Policy.Data for the user of a.
func (a *Access) Data(module string, path []Step, op Ops, secret bool) Action {
	p := a.p
	if act, ok := a.match(func(r *Rule) bool {
		return r.Ops&op != 0 && moduleMatch(r, module) && (r.Kind == Any || (r.Kind == DataNode && pathMatch(r.Path, path)))
	}); ok {
		return act
	}
	if secret || module == ModuleNACM {
		return Deny
	}
	if p.Disabled {
		return Permit
	}
	if op == Read {
		return p.ReadDefault
	}
	return p.WriteDefault
}

// Uniform reports whether op on every descendant of the node at path,
// of module, is decided as on the node itself: a rule matches the node
// (not a default, which secret descendants escape), and no rule before
// it could match a descendant instead — one whose path goes below the
// node's, or one that did not match the node for its module-name only
// (a descendant may be of another module, an augmenting one). The
// caller may then skip checking the descendants one by one.
func (a *Access) Uniform(module string, path []Step, op Ops) bool {
	for _, rl := range a.lists {
		for j := range rl.Rules {
			r := &rl.Rules[j]
			if r.Ops&op == 0 || (r.Kind != Any && r.Kind != DataNode) {
				continue
			}
			if r.Kind == DataNode && !prefixCompatible(r.Path, path) {
				continue // matches neither the node nor anything below it
			}
			deeper := r.Kind == DataNode && len(r.Path) > len(path)
			if !deeper && moduleMatch(r, module) {
				return true // the first rule matching the node
			}
			return false // may match a descendant before that rule
		}
	}
	return false
}

// prefixCompatible reports whether rule path rp and node path agree on
// the steps they both have: the rule matches the node, or (longer) some
// of its descendants.
func prefixCompatible(rp, path []Step) bool {
	n := min(len(rp), len(path))
	return pathMatch(rp[:n], path[:n])
}

// pathMatch reports whether rule path rp covers the node at path: the
// rule names the node or one of its ancestors (RFC 8341 §3.4.5 step 6:
// "the requested node is the node specified by the path, or is a
// descendant node of the path"). A keyed rule step matches only the
// entry of that key (node-instance-identifier: "If a key predicate is
// missing, then [it] represents all possible server instances for that
// key"); a node step without a key (a list as a whole) matches only
// rule steps without one.
func pathMatch(rp, path []Step) bool {
	if len(rp) > len(path) {
		return false
	}
	for i := range rp {
		r, n := &rp[i], &path[i]
		if r.Name != n.Name || (r.Keyed && (!n.Keyed || r.Key != n.Key)) {
			return false
		}
	}
	return true
}

// Names returns the path of schema node names as steps without keys.
func Names(names ...string) []Step {
	out := make([]Step, len(names))
	for i, n := range names {
		out[i].Name = n
	}
	return out
}
