package cli

import (
	"strings"

	"secgw/internal/schema"
)

// The text form of configuration and state, as the vsr guide prints it
// for 'show config' and 'show state':
//
//	vpn vpn0
//	    enabled true
//	    ike-policy
//	        template ikepol0
//	        ..
//	    security-policy vpn0sp0
//	        local-ts subnet 10.100.0.0/24
//	        ..
//	    ..
//
// A container or list entry prints its name (and key), its children
// indented by four spaces, then ".." at the children's indentation. A
// leaf prints "name value", a leaf-list one such line per value. The
// nodes built from the traffic-selector grouping print on one line.
// Reading the text back in configuration mode recreates the tree: a line
// naming a container or entry enters it, ".." leaves it.

const indentUnit = "    "

// renderer writes trees as text.
type renderer struct {
	s   *schema.Schema
	lay *layout
	b   strings.Builder
}

func (r *renderer) indent(depth int) {
	for range depth {
		r.b.WriteString(indentUnit)
	}
}

// children writes the children of n at depth.
func (r *renderer) children(n schema.Node, depth int) {
	for _, f := range r.lay.children(n.B) {
		r.field(n, f, depth)
	}
}

// field writes child f of n at depth: nothing when it is absent.
func (r *renderer) field(n schema.Node, f *schema.Field, depth int) {
	if !n.Has(f) {
		return
	}
	switch f.Kind {
	case schema.KindLeaf:
		if v, ok := n.Leaf(r.s, f); ok {
			r.leaf(f.Name, v, depth)
		}
	case schema.KindLeafList:
		for _, v := range n.LeafList(r.s, f) {
			r.leaf(f.Name, v, depth)
		}
	case schema.KindContainer:
		c, _ := n.Container(f, false)
		r.container(f, c, depth)
	case schema.KindList:
		for _, e := range n.Entries(f) {
			r.entry(f, e, depth)
		}
	}
}

func (r *renderer) leaf(name, value string, depth int) {
	r.indent(depth)
	r.b.WriteString(name)
	r.b.WriteByte(' ')
	r.b.WriteString(quote(value))
	r.b.WriteByte('\n')
}

// container writes container f (node c). An empty non-presence container
// says nothing and is left out.
func (r *renderer) container(f *schema.Field, c schema.Node, depth int) {
	if r.lay.inline(f) {
		if line := r.inlineLeaves(c); line != "" || isPresence(f.Entry) {
			r.indent(depth)
			r.b.WriteString(f.Name)
			r.b.WriteString(line)
			r.b.WriteByte('\n')
		}
		return
	}
	if !isPresence(f.Entry) && !r.hasContent(c) {
		return
	}
	r.indent(depth)
	r.b.WriteString(f.Name)
	r.b.WriteByte('\n')
	r.children(c, depth+1)
	r.indent(depth + 1)
	r.b.WriteString("..\n")
}

// entry writes list entry e of list f.
func (r *renderer) entry(f *schema.Field, e schema.Node, depth int) {
	r.indent(depth)
	r.b.WriteString(f.Name)
	r.b.WriteByte(' ')
	if r.lay.keyNamed(f) {
		r.b.WriteString(f.Elem.Fields[f.KeyIndex].Name)
		r.b.WriteByte(' ')
	}
	r.b.WriteString(quote(e.Key(r.s, f)))
	if r.lay.inline(f) {
		r.b.WriteString(r.inlineLeaves(e))
		r.b.WriteByte('\n')
		return
	}
	r.b.WriteByte('\n')
	r.children(e, depth+1)
	r.indent(depth + 1)
	r.b.WriteString("..\n")
}

// inlineLeaves returns " name value" for each leaf of n, in order.
func (r *renderer) inlineLeaves(n schema.Node) string {
	var b strings.Builder
	for _, f := range r.lay.children(n.B) {
		switch f.Kind {
		case schema.KindLeaf:
			if v, ok := n.Leaf(r.s, f); ok && n.Has(f) {
				b.WriteString(" " + f.Name + " " + quote(v))
			}
		case schema.KindLeafList:
			for _, v := range n.LeafList(r.s, f) {
				b.WriteString(" " + f.Name + " " + quote(v))
			}
		}
	}
	return b.String()
}

// hasContent reports whether anything below n would print.
func (r *renderer) hasContent(n schema.Node) bool {
	for _, f := range r.lay.children(n.B) {
		if !n.Has(f) {
			continue
		}
		if f.Kind != schema.KindContainer {
			return true
		}
		c, _ := n.Container(f, false)
		if isPresence(f.Entry) || r.hasContent(c) {
			return true
		}
	}
	return false
}
