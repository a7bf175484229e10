package cli

import (
	"strings"

	"secgw/internal/schema"
)

// 'show config diff' prints the uncommitted changes, candidate against
// running, in the text 'show config' prints, each line marked as in a
// unified diff: "+ " a node or value the commit adds, "- " one it
// removes, "  " the containers and entries around them (with their
// closing ".."), so that every change reads with its place:
//
//	  vrf main
//	      ike
//	          vpn hq
//	-             remote-address 198.51.100.1
//	+             remote-address 198.51.100.2
//	              ..
//	          ..
//	      ..
//
// Both trees are read in explicit with-defaults mode: a leaf set to its
// default value is a change, a default nobody set is none.

// differ writes the differences of two trees.
type differ struct {
	s   *schema.Schema
	lay *layout
}

// diffTrees returns the differences from the configuration tree from to
// the tree to (root nodes), "" when they are the same.
func (c *CLI) diffTrees(from, to schema.Node) string {
	d := &differ{s: c.s, lay: c.lay}
	return d.children(from, to, 0)
}

// children returns the differences below two nodes of the same binding.
func (d *differ) children(a, b schema.Node, depth int) string {
	var out strings.Builder
	for _, f := range d.lay.children(a.B) {
		out.WriteString(d.field(a, b, f, depth))
	}
	return out.String()
}

// whole returns what render writes at depth, every line marked.
func (d *differ) whole(mark string, render func(r *renderer)) string {
	r := &renderer{s: d.s, lay: d.lay}
	render(r)
	return markLines(mark, r.b.String())
}

// markLines puts mark before every line of text.
func markLines(mark, text string) string {
	if text == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if l != "" {
			b.WriteString(mark)
			b.WriteString(l)
		}
	}
	return b.String()
}

// context returns the unchanged header of a node whose children changed,
// the changes, and the node's closing "..".
func (d *differ) context(header string, depth int, inner string) string {
	if inner == "" {
		return ""
	}
	ind := strings.Repeat(indentUnit, depth)
	return "  " + ind + header + "\n" + inner + "  " + ind + indentUnit + "..\n"
}

// field returns the differences of child f of a and b.
func (d *differ) field(a, b schema.Node, f *schema.Field, depth int) string {
	ha, hb := a.Has(f), b.Has(f)
	switch {
	case !ha && !hb:
		return ""
	case !hb:
		return d.whole("- ", func(r *renderer) { r.field(a, f, depth) })
	case !ha:
		return d.whole("+ ", func(r *renderer) { r.field(b, f, depth) })
	}
	switch f.Kind {
	case schema.KindLeaf:
		va, _ := a.Leaf(d.s, f)
		vb, _ := b.Leaf(d.s, f)
		if va == vb {
			return ""
		}
		return d.whole("- ", func(r *renderer) { r.leaf(f.Name, va, depth) }) +
			d.whole("+ ", func(r *renderer) { r.leaf(f.Name, vb, depth) })
	case schema.KindLeafList:
		return d.leafList(f, a.LeafList(d.s, f), b.LeafList(d.s, f), depth)
	case schema.KindContainer:
		ca, _ := a.Container(f, false)
		cb, _ := b.Container(f, false)
		if d.lay.inline(f) {
			la, lb := (&renderer{s: d.s, lay: d.lay}).inlineLeaves(ca), (&renderer{s: d.s, lay: d.lay}).inlineLeaves(cb)
			if la == lb {
				return ""
			}
			return d.whole("- ", func(r *renderer) { r.container(f, ca, depth) }) +
				d.whole("+ ", func(r *renderer) { r.container(f, cb, depth) })
		}
		return d.context(f.Name, depth, d.children(ca, cb, depth+1))
	case schema.KindList:
		return d.list(f, a.Entries(f), b.Entries(f), depth)
	}
	return ""
}

// leafList returns the values of a leaf-list removed and added; values
// that only moved (an ordered-by user list reordered) count as removed
// and added.
func (d *differ) leafList(f *schema.Field, va, vb []string, depth int) string {
	if strings.Join(va, "\x00") == strings.Join(vb, "\x00") {
		return ""
	}
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, v := range va {
		inA[v] = true
	}
	for _, v := range vb {
		inB[v] = true
	}
	sameSet := len(inA) == len(inB)
	for v := range inA {
		sameSet = sameSet && inB[v]
	}
	var out strings.Builder
	for _, v := range va {
		if sameSet || !inB[v] {
			out.WriteString(d.whole("- ", func(r *renderer) { r.leaf(f.Name, v, depth) }))
		}
	}
	for _, v := range vb {
		if sameSet || !inA[v] {
			out.WriteString(d.whole("+ ", func(r *renderer) { r.leaf(f.Name, v, depth) }))
		}
	}
	return out.String()
}

// list returns the differences of the entries of list f: entries only
// in a are removed whole, entries only in b added whole, entries in both
// compared child by child. An ordered-by user list is read in its new
// order (orderedList).
func (d *differ) list(f *schema.Field, ea, eb []schema.Node, depth int) string {
	if f.Ordered {
		return d.orderedList(f, ea, eb, depth)
	}
	byKey := make(map[string]schema.Node, len(eb))
	for _, e := range eb {
		byKey[e.Key(d.s, f)] = e
	}
	inA := make(map[string]bool, len(ea))
	var out strings.Builder
	for _, e := range ea {
		k := e.Key(d.s, f)
		inA[k] = true
		other, ok := byKey[k]
		switch {
		case !ok:
			out.WriteString(d.whole("- ", func(r *renderer) { r.entry(f, e, depth) }))
		default:
			out.WriteString(d.common(f, e, other, depth))
		}
	}
	for _, e := range eb {
		if !inA[e.Key(d.s, f)] {
			out.WriteString(d.whole("+ ", func(r *renderer) { r.entry(f, e, depth) }))
		}
	}
	return out.String()
}

// common returns the differences of entry a of list f and entry b, of
// the same key.
func (d *differ) common(f *schema.Field, a, b schema.Node, depth int) string {
	if d.lay.inline(f) {
		r := &renderer{s: d.s, lay: d.lay}
		if r.inlineLeaves(a) == r.inlineLeaves(b) {
			return ""
		}
		return d.whole("- ", func(r *renderer) { r.entry(f, a, depth) }) + d.whole("+ ", func(r *renderer) { r.entry(f, b, depth) })
	}
	return d.context(d.entryHeader(f, a), depth, d.children(a, b, depth+1))
}

// orderedList is list for an ordered-by user list, whose order is
// configuration: the entries removed first, then in the new order the
// entries added, the entries that moved (schema.Moved) removed whole
// and added whole at their new place, and the others compared.
func (d *differ) orderedList(f *schema.Field, ea, eb []schema.Node, depth int) string {
	ka, kb := make([]string, len(ea)), make([]string, len(eb))
	byKey := make(map[string]schema.Node, len(ea))
	for i, e := range ea {
		ka[i] = e.Key(d.s, f)
		byKey[ka[i]] = e
	}
	inB := make(map[string]bool, len(eb))
	for i, e := range eb {
		kb[i] = e.Key(d.s, f)
		inB[kb[i]] = true
	}
	moved := schema.Moved(ka, kb)
	var out strings.Builder
	for i, e := range ea {
		if !inB[ka[i]] {
			out.WriteString(d.whole("- ", func(r *renderer) { r.entry(f, e, depth) }))
		}
	}
	for i, e := range eb {
		old, ok := byKey[kb[i]]
		switch {
		case !ok:
			out.WriteString(d.whole("+ ", func(r *renderer) { r.entry(f, e, depth) }))
		case moved[kb[i]]:
			out.WriteString(d.whole("- ", func(r *renderer) { r.entry(f, old, depth) }))
			out.WriteString(d.whole("+ ", func(r *renderer) { r.entry(f, e, depth) }))
		default:
			out.WriteString(d.common(f, old, e, depth))
		}
	}
	return out.String()
}

// entryHeader is the first line 'show config' prints for entry e of
// list f, without indentation.
func (d *differ) entryHeader(f *schema.Field, e schema.Node) string {
	h := f.Name + " "
	if d.lay.keyNamed(f) {
		h += f.Elem.Fields[f.KeyIndex].Name + " "
	}
	return h + quote(e.Key(d.s, f))
}
