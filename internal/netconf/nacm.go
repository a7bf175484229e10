package netconf

import (
	"errors"
	"fmt"
	"slices"

	"secgw/generated"
	"secgw/internal/nacm"
	"secgw/internal/netconf/transport"
	"secgw/internal/schema"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// policyOf builds the access control of /nacm in d (ietf-netconf-acm,
// RFC 8341; an unset leaf has its YANG default, which the nil checks
// here give). With no /nacm, the predefined groups alone decide, as the
// roles did. v
// resolves the rules' paths against the schema (validate.RulePath),
// which validate and commit have checked already.
func policyOf(d *generated.Device, v *validate.Validator) (*nacm.Policy, error) {
	p := nacm.Default()
	n := d.GetNacm()
	if n == nil {
		return p, nil
	}
	p.Disabled = n.EnableNacm != nil && !*n.EnableNacm
	act := func(a generated.E_IETFNetconfAcm_ActionType, dflt nacm.Action) nacm.Action {
		switch a {
		case generated.IETFNetconfAcm_ActionType_permit:
			return nacm.Permit
		case generated.IETFNetconfAcm_ActionType_deny:
			return nacm.Deny
		}
		return dflt
	}
	p.ReadDefault = act(n.ReadDefault, nacm.Permit)
	p.WriteDefault = act(n.WriteDefault, nacm.Deny)
	p.ExecDefault = act(n.ExecDefault, nacm.Permit)
	if g := n.GetGroups(); g != nil && len(g.Group) > 0 {
		p.Groups = map[string][]string{}
		for name, g := range g.Group {
			p.Groups[name] = slices.Clone(g.UserName)
		}
	}
	// In the order the operator wrote them (ordered-by user, RFC 8341
	// §3.4.5): the first rule that matches decides.
	for _, rl := range n.RuleList.Values() {
		list := nacm.RuleList{Name: rl.GetName(), Groups: slices.Clone(rl.Group)}
		for _, r := range rl.Rule.Values() {
			rule := nacm.Rule{Name: r.GetName(), Module: r.GetModuleName(), Action: act(r.Action, nacm.Deny)}
			var ok bool
			if rule.Ops, ok = nacm.ParseOps(r.GetAccessOperations()); !ok {
				return nil, fmt.Errorf("nacm: rule %s/%s: access-operations %q", list.Name, rule.Name, r.GetAccessOperations())
			}
			switch {
			case r.RpcName != nil:
				rule.Kind, rule.Target = nacm.Operation, *r.RpcName
			case r.NotificationName != nil:
				rule.Kind, rule.Target = nacm.Notification, *r.NotificationName
			case r.Path != nil:
				rule.Kind = nacm.DataNode
				if v == nil {
					return nil, fmt.Errorf("nacm: rule %s/%s: no schema to resolve its path with", list.Name, rule.Name)
				}
				var err error
				if rule.Path, err = v.RulePath(*r.Path); err != nil {
					return nil, fmt.Errorf("nacm: rule %s/%s: %w", list.Name, rule.Name, err)
				}
			}
			list.Rules = append(list.Rules, rule)
		}
		p.RuleLists = append(p.RuleLists, list)
	}
	return p, nil
}

// nacmLockout refuses rules that leave no admin able to change the
// accounts and rules: some admin who can log in must be permitted
// edit-config and commit, and create, update and delete on /aaa,
// /aaa/user, /nacm and /nacm/rule-list. Otherwise the gateway could only be recovered through its
// data directory.
func nacmLockout(p *nacm.Policy, users []User) error {
	for _, u := range users {
		if u.Role != RoleAdmin || (u.Password == "" && len(u.Keys) == 0) {
			continue
		}
		nu := nacm.User{Name: u.Name, Role: u.Role}
		ok := p.Exec(nu, "ietf-netconf", "edit-config", false) == nacm.Permit &&
			p.Exec(nu, "ietf-netconf", "commit", false) == nacm.Permit
		for _, at := range []struct {
			module string
			path   []nacm.Step
		}{
			{"secgw-aaa", nacm.Names("aaa")}, {"secgw-aaa", nacm.Names("aaa", "user")},
			{"ietf-netconf-acm", nacm.Names("nacm")}, {"ietf-netconf-acm", nacm.Names("nacm", "rule-list")},
		} {
			for _, op := range []nacm.Ops{nacm.Create, nacm.Update, nacm.Delete} {
				ok = ok && p.Data(nu, at.module, at.path, op, false) == nacm.Permit
			}
		}
		if ok {
			return nil
		}
	}
	return errors.New("nacm: the rules would leave no admin able to edit-config, commit and write /aaa and /nacm; refused")
}

// policy returns the access control in force.
func (srv *Server) policy() *nacm.Policy {
	if p := srv.nacm.Load(); p != nil {
		return p
	}
	return defaultPolicy
}

var defaultPolicy = nacm.Default()

// nacmUser is the session's account for the policy.
func nacmUser(s *transport.Session) nacm.User { return nacm.User{Name: s.User(), Role: s.Role()} }

// moduleOf returns the name of the YANG module of namespace ns. The
// protocol namespaces are those RFC 8341 names: ietf-netconf for the
// base operations, notifications for create-subscription.
func (srv *Server) moduleOf(ns string) string {
	switch ns {
	case NSBase:
		return "ietf-netconf"
	case NSNotification:
		return "notifications"
	case NSMonitoring:
		return "ietf-netconf-monitoring"
	case NSNCNotif:
		return "ietf-netconf-notifications"
	}
	if m, ok := srv.modules[ns]; ok {
		return m
	}
	return ns
}

// moduleNames maps each namespace of the schema to its module.
func (srv *Server) moduleNames() map[string]string {
	out := map[string]string{}
	if srv.cfg.Schema == nil {
		return out
	}
	for name, m := range srv.cfg.Schema.Modules {
		if ns := m.Namespace(); ns != nil && ns.Name != "" {
			out[ns.Name] = name
		}
	}
	return out
}

// accessDenied is the access-denied rpc-error (RFC 8341 §3.4.5, RFC 6241
// appendix A), with the node refused as error-path when there is one.
func accessDenied(s *transport.Session, what string, path schema.DataPath) error {
	err := opError("application", "access-denied", "user "+s.User()+" (role "+s.Role()+") may not "+what, nil)
	if path != nil {
		err.Path = path.String()
	}
	return err
}

// nodeModule returns the module of the data node at path (schema node
// names): the module that defines it, an augmenting one included.
func (srv *Server) nodeModule(path schema.DataPath) string {
	if srv.cfg.Schema == nil || srv.cfg.Schema.Root == nil {
		return ""
	}
	e := srv.cfg.Schema.Root
	for _, el := range path {
		c := e.Dir[el.Name]
		if c == nil {
			break
		}
		e = c
	}
	if ns := e.Namespace(); ns != nil {
		return srv.moduleOf(ns.Name)
	}
	return ""
}

// checkWrite refuses the first edit the session's policy does not
// permit (RFC 8341 §3.4.5), looking at the tree it applies to (root):
// create for a node created (create, or a merge or replace of a node
// that does not exist), update for a leaf a merge or replace changes,
// delete for delete and remove, and update and delete for a replace of
// an existing container or list entry (it may delete what it leaves
// out). A merge passing through an existing container or list entry
// changes nothing there: its edits below are checked instead; but one
// that moves an entry of an ordered-by user list (the insert attribute)
// needs update access to it, the order being configuration. With
// configured rules, deleting or replacing an existing container or list
// entry also needs delete access to each node below it that it deletes
// (checkBelow): a rule of its own, a keyed one, may deny one of them,
// unless the rule that decided the node decides them all (Uniform).
func (srv *Server) checkWrite(s *transport.Session, root schema.Node, edits []xmlcodec.Edit, defOp xmlcodec.Operation) error {
	a := srv.policy().For(nacmUser(s))
	configured := srv.nacm.Load() != nil
	var steps []nacm.Step
	var restated map[string]bool // the paths a replace states, built once
	for _, e := range edits {
		if len(e.Path) == 0 {
			continue
		}
		op := e.Op
		if op == "" {
			op = defOp
		}
		var want nacm.Ops
		switch op {
		case xmlcodec.OpNone:
			continue
		case xmlcodec.OpCreate:
			want = nacm.Create
		case xmlcodec.OpDelete, xmlcodec.OpRemove:
			want = nacm.Delete
		default:
			exists, leaf := srv.exists(root, e.Path)
			switch {
			case !exists:
				want = nacm.Create
			case leaf:
				want = nacm.Update
			case op == xmlcodec.OpReplace:
				want = nacm.Update | nacm.Delete
			case e.Insert.Set:
				want = nacm.Update // a move changes the list's order
			default:
				continue
			}
		}
		steps = nacmSteps(steps[:0], e.Path)
		secret := srv.isSecret(e.Path)
		module := srv.nodeModule(e.Path)
		for _, o := range []nacm.Ops{nacm.Create, nacm.Update, nacm.Delete} {
			if want&o != 0 && a.Data(module, steps, o, secret) != nacm.Permit {
				return srv.deniedWrite(s, "write "+e.Path[len(e.Path)-1].Name, e.Path)
			}
		}
		if !configured || want&nacm.Delete == 0 || a.Uniform(module, steps, nacm.Delete) {
			continue
		}
		n, ok, err := srv.cfg.Schema.ResolveFrom(root, e.Path, false)
		if err != nil || !ok {
			continue // a leaf, or nothing to delete
		}
		var keep map[string]bool
		if op == xmlcodec.OpReplace {
			if restated == nil {
				restated = map[string]bool{}
				for _, r := range edits {
					restated[r.Path.String()] = true
				}
			}
			keep = restated
		}
		// Read without the journal: this walk changes nothing.
		if !srv.checkBelow(a, schema.Node{V: n.V, B: n.B}, e.Path, keep) {
			// The node named is the edit's own: the one below that is
			// denied may be one the session may not even read.
			return srv.deniedWrite(s, "delete "+e.Path[len(e.Path)-1].Name+" with what it holds", e.Path)
		}
	}
	return nil
}

// checkBelow reports whether a may delete every node below n, at path,
// that exists (RFC 8341 §3.2.5: "If the protocol operation would result
// in the deletion of a datastore node and the user does not have
// 'delete' access permission for that node, the protocol operation is
// rejected"). The nodes whose path is in keep (those a replace states
// again) are not deleted: their edits are checked on their own, and
// what is below them still is here.
func (srv *Server) checkBelow(a *nacm.Access, n schema.Node, path schema.DataPath, keep map[string]bool) bool {
	var steps []nacm.Step
	may := func(f *schema.Field, p schema.DataPath) bool {
		if keep != nil && keep[p.String()] {
			return true
		}
		module := ""
		if ns := f.Entry.Namespace(); ns != nil {
			module = srv.moduleOf(ns.Name)
		}
		steps = nacmSteps(steps[:0], p)
		return a.Data(module, steps, nacm.Delete, f.Secret) == nacm.Permit
	}
	var walk func(n schema.Node, path schema.DataPath) bool
	walk = func(n schema.Node, path schema.DataPath) bool {
		for i := range n.B.Fields {
			f := &n.B.Fields[i]
			if !f.Config {
				continue
			}
			switch f.Kind {
			case schema.KindLeaf, schema.KindLeafList:
				if n.Has(f) && !may(f, path.Child(schema.Elem{Name: f.Name})) {
					return false
				}
			case schema.KindContainer:
				if c, ok := n.Container(f, false); ok {
					p := path.Child(schema.Elem{Name: f.Name})
					if !may(f, p) || !walk(c, p) {
						return false
					}
				}
			case schema.KindList:
				kn := f.Elem.Fields[f.KeyIndex].Name
				for _, c := range n.Entries(f) {
					p := path.Child(schema.Elem{Name: f.Name, KeyName: kn, Key: c.Key(srv.cfg.Schema, f)})
					if !may(f, p) || !walk(c, p) {
						return false
					}
				}
			}
		}
		return true
	}
	return walk(n, path)
}

// exists reports whether the node at path is in the tree at root, and
// whether it is a leaf or leaf-list.
func (srv *Server) exists(root schema.Node, path schema.DataPath) (exists, leaf bool) {
	parent, ok, err := srv.cfg.Schema.ResolveFrom(root, path[:len(path)-1], false)
	if err != nil || !ok {
		return false, false
	}
	last := path[len(path)-1]
	f := parent.B.Field(last.Name)
	if f == nil {
		return false, false
	}
	switch f.Kind {
	case schema.KindLeaf, schema.KindLeafList:
		return parent.Has(f), true
	}
	_, ok, err = srv.cfg.Schema.ResolveFrom(parent, path[len(path)-1:], false)
	return err == nil && ok, false
}

// isSecret reports whether the node at path carries secgw-types:secret.
func (srv *Server) isSecret(path schema.DataPath) bool {
	if srv.cfg.Schema == nil || srv.cfg.Schema.Root == nil {
		return false
	}
	e := srv.cfg.Schema.Root
	for _, el := range path {
		if e = e.Dir[el.Name]; e == nil {
			return false
		}
	}
	return schema.IsSecret(e)
}

// readFilter is the read check of the session, for the encoder and the
// xpath filter: whether its policy lets it read the node at path (list
// entries with their keys), of namespace ns. Each call returns a check
// with its own buffer: one encoding or one evaluation uses it at a time.
func (srv *Server) readFilter(s *transport.Session) validate.ReadFunc {
	return srv.readCheck(srv.policy().For(nacmUser(s)))
}

// readCheck is readFilter for the access a.
func (srv *Server) readCheck(a *nacm.Access) validate.ReadFunc {
	var steps []nacm.Step
	return func(ns string, path schema.DataPath, secret bool) bool {
		steps = syncSteps(steps, path)
		return a.Data(srv.moduleOf(ns), steps, nacm.Read, secret) == nacm.Permit
	}
}

// syncSteps makes steps the steps of p, rewriting only the elements that
// differ: an encoder asks for one node after another, whose paths share
// their ancestors' steps.
func syncSteps(steps []nacm.Step, p schema.DataPath) []nacm.Step {
	for i, e := range p {
		if i == len(steps) {
			steps = append(steps, nacm.Step{})
		}
		st := &steps[i]
		if st.Name != e.Name || st.Key != e.Key || st.Keyed != (e.KeyName != "") {
			*st = nacm.Step{Name: e.Name, Key: e.Key, Keyed: e.KeyName != ""}
		}
	}
	return steps[:len(p)]
}

// nacmSteps appends the steps of data path p to dst.
func nacmSteps(dst []nacm.Step, p schema.DataPath) []nacm.Step {
	for _, e := range p {
		dst = append(dst, nacm.Step{Name: e.Name, Key: e.Key, Keyed: e.KeyName != ""})
	}
	return dst
}

// fileUsers returns the accounts of the users file, for the lockout
// check of rules committed while the file holds the accounts.
func (u *Users) fileUsers() []User {
	if u == nil {
		return nil
	}
	set := u.set.Load()
	if set == nil {
		return nil
	}
	out := make([]User, 0, len(set.byName))
	for _, usr := range set.byName {
		out = append(out, *usr)
	}
	return out
}

// checkWriteAll refuses a session that may not create, update and
// delete every node: copy-config of an inline config replaces the whole
// candidate, deleting nodes its edits do not name.
func (srv *Server) checkWriteAll(s *transport.Session) error {
	p := srv.policy()
	u := nacmUser(s)
	for _, o := range []nacm.Ops{nacm.Create, nacm.Update, nacm.Delete} {
		if p.Data(u, "*", nil, o, true) != nacm.Permit {
			return srv.deniedWrite(s, "replace the whole configuration", nil)
		}
	}
	return nil
}

// deniedWrite is accessDenied for a request to alter a datastore,
// counted as RFC 8341's denied-data-writes.
func (srv *Server) deniedWrite(s *transport.Session, what string, path schema.DataPath) error {
	srv.denied.writes.Add(1)
	return accessDenied(s, what, path)
}

// nacmState adds RFC 8341's counters of denials to state (a new tree
// when nil) under /nacm.
func (srv *Server) nacmState(state *generated.Device) *generated.Device {
	if state == nil {
		state = &generated.Device{}
	}
	if state.Nacm == nil {
		state.Nacm = &generated.IETFNetconfAcm_Nacm{}
	}
	ops, writes, notifs := srv.denied.ops.Load(), srv.denied.writes.Load(), srv.denied.notifications.Load()
	n := state.Nacm
	n.DeniedOperations, n.DeniedDataWrites, n.DeniedNotifications = &ops, &writes, &notifs
	return state
}
