package xmlcodec

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
)

// Codec is the encoder and decoder of one schema's data tree. New
// computes once what they need: for each binding, its fields in document
// order with their namespaces and canonical defaults. It is immutable
// and safe for concurrent use; its owner (the NETCONF server, the CLI)
// builds it once and passes it.
type Codec struct {
	s          *schema.Schema
	root       *plan
	plans      map[*schema.Binding]*plan
	namespaces map[string]bool // namespaces of the data modules
}

// plan is one container or list entry type.
type plan struct {
	b        *schema.Binding
	fields   []fieldPlan // keys first in key order, then YANG statement order
	byName   map[string]*fieldPlan
	presence bool
	key      *fieldPlan // list entries only
	// defaults[0] reports whether a config default leaf is reachable
	// through non-presence containers; defaults[1] counts state ones too.
	defaults [2]bool
}

// fieldPlan is one child node of a plan.
type fieldPlan struct {
	f       *schema.Field
	ns      string
	elem    *plan
	dflt    string // canonical default, for leaves with a default
	hasDflt bool
	trim    bool // not a string type: whitespace around values is ignored
	isKey   bool
	secret  bool
}

// New builds the codec of s.
func New(s *schema.Schema) (*Codec, error) {
	c := &Codec{s: s, plans: map[*schema.Binding]*plan{}, namespaces: map[string]bool{}}
	for _, m := range s.Modules {
		if ns := m.Namespace(); ns != nil && ns.Name != "" {
			c.namespaces[ns.Name] = true
		}
	}
	root, err := c.plan(s.RootBinding())
	if err != nil {
		return nil, err
	}
	c.root = root
	return c, nil
}

func (c *Codec) plan(b *schema.Binding) (*plan, error) {
	if p, ok := c.plans[b]; ok {
		return p, nil
	}
	p := &plan{b: b, byName: make(map[string]*fieldPlan, len(b.Fields))}
	c.plans[b] = p
	if b.Entry != nil {
		if ct, ok := b.Entry.Node.(*yang.Container); ok && ct.Presence != nil {
			p.presence = true
		}
	}
	keys := schema.KeyNames(b.Entry)
	order := StatementOrder(b.Entry)
	rank := func(name string) int {
		for i, k := range keys {
			if k == name {
				return i - len(keys) - 1 // keys before everything
			}
		}
		if r, ok := order[name]; ok {
			return r
		}
		return len(order) // not found: after, by name (never in our modules)
	}
	fields := make([]fieldPlan, len(b.Fields))
	for i := range b.Fields {
		f := &b.Fields[i]
		fp := fieldPlan{f: f, ns: f.Entry.Namespace().Name, secret: f.Secret}
		fp.isKey = len(keys) > 0 && f.Name == keys[0]
		switch f.Kind {
		case schema.KindContainer, schema.KindList:
			e, err := c.plan(f.Elem)
			if err != nil {
				return nil, err
			}
			fp.elem = e
		case schema.KindLeaf, schema.KindLeafList:
			fp.trim = !stringLike(f)
			if d, ok := f.Entry.SingleDefaultValue(); ok && f.Kind == schema.KindLeaf {
				v, err := c.s.ParseValue(f, d)
				if err != nil {
					return nil, fmt.Errorf("xmlcodec: %s: default %q: %v", schema.Path(f.Entry), d, err)
				}
				fp.dflt, fp.hasDflt = c.s.Format(v)
			}
		}
		fields[i] = fp
	}
	sort.SliceStable(fields, func(i, j int) bool {
		ri, rj := rank(fields[i].f.Name), rank(fields[j].f.Name)
		if ri != rj {
			return ri < rj
		}
		return fields[i].f.Name < fields[j].f.Name
	})
	p.fields = fields
	for i := range p.fields {
		fp := &p.fields[i]
		p.byName[fp.f.Name] = fp
		if fp.isKey {
			p.key = fp
		}
	}
	for i := range p.fields {
		fp := &p.fields[i]
		switch {
		case fp.hasDflt:
			p.defaults[1] = true
			if fp.f.Config {
				p.defaults[0] = true
			}
		case fp.f.Kind == schema.KindContainer && !fp.elem.presence:
			p.defaults[1] = p.defaults[1] || fp.elem.defaults[1]
			if fp.f.Config {
				p.defaults[0] = p.defaults[0] || fp.elem.defaults[0]
			}
		}
	}
	return p, nil
}

// stringLike reports whether a leaf's values are strings, whose whitespace
// is significant: the Go type is a string, or a union with a string member.
func stringLike(f *schema.Field) bool {
	t := f.Type
	if f.Kind == schema.KindLeafList {
		t = t.Elem()
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return true
	case reflect.Interface:
		return unionHasString(f.Entry.Type)
	}
	return false
}

func unionHasString(yt *yang.YangType) bool {
	if yt == nil {
		return true
	}
	switch yt.Kind {
	case yang.Yunion:
		for _, m := range yt.Type {
			if unionHasString(m) {
				return true
			}
		}
		return false
	case yang.Ystring, yang.Yleafref, yang.Ybinary, yang.Ybits:
		return true
	}
	return false
}

// StatementOrder returns the rank of each data child of a container or
// list entry in the order of the YANG statements that define it: the
// entry's own statements (with each 'uses' expanded in place, and choices
// and cases looked through), then the statements of the augments that add
// children to it, a module's before those of the modules it imports (then
// by module name). RFC 7950 §7.5.7 lets siblings come in any order; this
// one is libyang's, so that yanglint prints our documents as we do. It is the order in which
// Encode writes siblings (after list keys). This belongs in
// internal/schema; it lives here until the schema package offers it.
func StatementOrder(e *yang.Entry) map[string]int {
	order := map[string]int{}
	if e == nil {
		return order
	}
	var walk func(ctx yang.Node, st *yang.Statement, depth int)
	walk = func(ctx yang.Node, st *yang.Statement, depth int) {
		if st == nil || depth > 32 {
			return
		}
		for _, sub := range st.SubStatements() {
			switch sub.Keyword {
			case "leaf", "leaf-list", "container", "list", "anydata", "anyxml":
				if _, ok := order[sub.Argument]; !ok {
					order[sub.Argument] = len(order)
				}
			case "choice", "case":
				walk(ctx, sub, depth+1)
			case "uses":
				if g := yang.FindGrouping(ctx, sub.Argument, map[string]bool{}); g != nil {
					walk(g, g.Statement(), depth+1)
				}
			}
		}
	}
	if e.Node != nil {
		walk(e.Node, e.Node.Statement(), 0)
	} else {
		// The virtual root: top-level nodes by module, then name.
		names := make([]*yang.Entry, 0, len(e.Dir))
		for _, c := range e.Dir {
			names = append(names, c)
		}
		sort.Slice(names, func(i, j int) bool {
			ni, nj := names[i].Namespace().Name, names[j].Namespace().Name
			if ni != nj {
				return ni < nj
			}
			return names[i].Name < names[j].Name
		})
		for _, c := range names {
			order[c.Name] = len(order)
		}
		return order
	}
	// The augmenting modules in libyang's order: a module before the
	// modules it imports (directly or not), and otherwise by name
	// (secgw-ha, which imports secgw-ike, before it; secgw-kpi, which
	// does not, after it).
	modOf := func(a *yang.Entry) *yang.Module {
		m := yang.RootNode(a.Node)
		if m != nil && m.Kind() == "submodule" && m.Modules != nil && m.BelongsTo != nil {
			if mm := m.Modules.Modules[m.BelongsTo.Name]; mm != nil {
				m = mm
			}
		}
		return m
	}
	byMod := map[*yang.Module][]*yang.Entry{}
	var mods []*yang.Module
	for _, a := range e.Augmented {
		m := modOf(a)
		if _, ok := byMod[m]; !ok {
			mods = append(mods, m)
		}
		byMod[m] = append(byMod[m], a)
	}
	memo := map[[2]*yang.Module]bool{}
	for len(mods) > 0 {
		best := -1
		for i, m := range mods {
			needed := false // another remaining module imports m
			for j, n := range mods {
				if i != j && m != nil && n != nil && imports(n, m, memo, 0) {
					needed = true
					break
				}
			}
			if needed {
				continue
			}
			if best < 0 || modName(m) < modName(mods[best]) {
				best = i
			}
		}
		if best < 0 {
			best = 0 // an import cycle (not valid YANG)
		}
		for _, a := range byMod[mods[best]] {
			if a.Node != nil {
				walk(a.Node, a.Node.Statement(), 0)
			}
		}
		mods = append(mods[:best], mods[best+1:]...)
	}
	return order
}

func modName(m *yang.Module) string {
	if m == nil {
		return ""
	}
	return m.Name
}

// imports reports whether module a imports b, directly or not.
func imports(a, b *yang.Module, memo map[[2]*yang.Module]bool, guard int) bool {
	if r, ok := memo[[2]*yang.Module{a, b}]; ok {
		return r
	}
	if guard > 64 {
		return false
	}
	memo[[2]*yang.Module{a, b}] = false // cycles end here
	r := false
	for _, im := range a.Import {
		if im.Module != nil && (im.Module == b || imports(im.Module, b, memo, guard+1)) {
			r = true
			break
		}
	}
	memo[[2]*yang.Module{a, b}] = r
	return r
}
