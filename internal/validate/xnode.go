package validate

import (
	"reflect"
	"strings"

	"secgw/internal/schema"
	"secgw/internal/xpath"
)

// xnode exposes a generated tree to the XPath engine. Containers and list
// entries wrap a schema.Node; leaves carry their lexical value. Parents are
// linked as the walk (or an XPath step) goes down, so no node is built that
// nobody visits.
//
// A non-presence container that is absent from the Go tree still exists in
// the YANG data tree with its default leaves (RFC 7950 §7.5.1, §7.6.1): it
// is a virtual node (n.V invalid) whose only children are defaults.
type xnode struct {
	parent *xnode
	plan   *nodePlan  // container or list entry; nil for a leaf
	fp     *fieldPlan // the field of the parent this node is; nil at the root
	v      reflect.Value
	value  string // leaf value
	// read, when set (Select with SelectOptions.Read), is the reader's
	// access control: a node it denies, with its descendants, is not in
	// the tree the expression sees.
	read ReadFunc
}

// xnode1 allocates a node together with the one-element slice that returns
// it, halving the allocations of the common single-child step.
type xnode1 struct {
	x xnode
	s [1]xpath.Node
}

func one(x xnode) []xpath.Node {
	b := &xnode1{x: x}
	b.s[0] = &b.x
	return b.s[:]
}

var _ xpath.Node = (*xnode)(nil)

func (x *xnode) isLeaf() bool { return x.plan == nil }

func (x *xnode) node() schema.Node { return schema.Node{V: x.v, B: x.plan.b} }

// Name implements xpath.Node.
func (x *xnode) Name() string {
	if x.fp == nil {
		return ""
	}
	return x.fp.f.Name
}

// Namespace implements xpath.NamespaceNode: the namespace of the module
// that defines the node (the augmenting module's for augmented nodes).
func (x *xnode) Namespace() string {
	if x.fp == nil {
		return ""
	}
	return x.fp.ns
}

// Parent implements xpath.Node.
func (x *xnode) Parent() xpath.Node {
	if x.parent == nil {
		return nil
	}
	return x.parent
}

// Value implements xpath.Node.
func (x *xnode) Value() (string, bool) { return x.value, x.plan == nil }

// Children implements xpath.Node.
func (x *xnode) Children(name string) []xpath.Node {
	if x.plan == nil {
		return nil
	}
	var base schema.DataPath
	if x.read != nil {
		base = x.dataPath()
	}
	if name == "*" {
		var out []xpath.Node
		for i := range x.plan.fields {
			out = x.appendChildren(out, &x.plan.fields[i], base)
		}
		return out
	}
	i, ok := x.plan.b.Index(name)
	if !ok {
		return nil
	}
	return x.appendChildren(nil, &x.plan.fields[i], base)
}

// readable reports whether the reader may read child fp of x, whose path
// is base (a list entry's is checked by readableEntry instead).
func (x *xnode) readable(fp *fieldPlan, base schema.DataPath) bool {
	if x.read == nil || fp.f.Kind == schema.KindList {
		return true
	}
	return x.read(fp.ns, append(base[:len(base):len(base)], schema.Elem{Name: fp.f.Name}), fp.f.Secret)
}

// readableEntry reports whether the reader may read list entry e of list
// fp, and its key: an entry whose key is denied is denied as a whole, its
// key being its identity.
func (x *xnode) readableEntry(fp *fieldPlan, e schema.Node, base schema.DataPath) bool {
	if x.read == nil {
		return true
	}
	kf := &fp.f.Elem.Fields[fp.f.KeyIndex]
	p := append(base[:len(base):len(base)], schema.Elem{Name: fp.f.Name, KeyName: kf.Name, Key: e.Key(fp.s, fp.f)})
	return x.read(fp.ns, p, false) && x.read(fp.ns, append(p, schema.Elem{Name: kf.Name}), kf.Secret)
}

func (x *xnode) appendChildren(out []xpath.Node, fp *fieldPlan, base schema.DataPath) []xpath.Node {
	if fp.hidden {
		return out // a secret, in the view of a reader who may not see it
	}
	if !x.readable(fp, base) {
		return out
	}
	f := fp.f
	s := fp.s
	r := x.read
	if !x.v.IsValid() {
		// Virtual container: only defaults and virtual containers.
		switch f.Kind {
		case schema.KindLeaf:
			if fp.hasDflt {
				out = appendOne(out, xnode{parent: x, fp: fp, value: fp.dflt, read: r})
			}
		case schema.KindContainer:
			if !fp.elem.presence {
				out = appendOne(out, xnode{parent: x, fp: fp, plan: fp.elem, read: r})
			}
		}
		return out
	}
	n := x.node()
	switch f.Kind {
	case schema.KindLeaf:
		if v, ok := n.Leaf(s, f); ok {
			out = appendOne(out, xnode{parent: x, fp: fp, value: v, read: r})
		} else if fp.hasDflt {
			out = appendOne(out, xnode{parent: x, fp: fp, value: fp.dflt, read: r})
		}
	case schema.KindLeafList:
		for _, v := range n.LeafList(s, f) {
			out = append(out, &xnode{parent: x, fp: fp, value: v, read: r})
		}
	case schema.KindContainer:
		if c, ok := n.Container(f, false); ok {
			out = appendOne(out, xnode{parent: x, fp: fp, plan: fp.elem, v: c.V, read: r})
		} else if !fp.elem.presence {
			out = appendOne(out, xnode{parent: x, fp: fp, plan: fp.elem, read: r})
		}
	case schema.KindList:
		entries := n.Entries(f)
		xs := make([]xnode, 0, len(entries))
		for _, e := range entries {
			if !x.readableEntry(fp, e, base) {
				continue
			}
			xs = append(xs, xnode{parent: x, fp: fp, plan: fp.elem, v: e.V, read: r})
			out = append(out, &xs[len(xs)-1])
		}
	}
	return out
}

func appendOne(out []xpath.Node, x xnode) []xpath.Node {
	if out == nil {
		return one(x)
	}
	p := new(xnode)
	*p = x
	return append(out, p)
}

func (x *xnode) child(fp *fieldPlan, v reflect.Value) *xnode {
	return &xnode{parent: x, fp: fp, plan: fp.elem, v: v, read: x.read}
}

// path renders the instance identifier of x.
func (x *xnode) path() string {
	var parts []*xnode
	for n := x; n != nil && n.parent != nil; n = n.parent {
		parts = append(parts, n)
	}
	if len(parts) == 0 {
		return "/"
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		n := parts[i]
		b.WriteByte('/')
		b.WriteString(n.fp.f.Name)
		if n.fp.f.Kind == schema.KindList {
			b.WriteString("[")
			b.WriteString(schema.KeyNames(n.plan.b.Entry)[0])
			b.WriteString("='")
			b.WriteString(n.key())
			b.WriteString("']")
		}
	}
	return b.String()
}

// key returns the key value of a list entry node.
func (x *xnode) key() string {
	return x.node().Key(x.fp.s, x.fp.f)
}
