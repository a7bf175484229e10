package cli

import (
	"bytes"
	"encoding/xml"
	"fmt"

	"secgw/internal/schema"
)

// NSBase is the NETCONF base namespace (RFC 6241 §3.1), which also holds
// the operation attribute of edit-config.
const NSBase = "urn:ietf:params:xml:ns:netconf:base:1.0"

// xnode is an XML element being built: the nodes of edit-config content,
// of a subtree filter, or of an RPC's input.
type xnode struct {
	name, ns string
	text     *string // leaf value; nil for an inner or empty element
	op       string  // edit-config operation attribute, "" for none
	// insert and insertKey are the insert and key attributes of an
	// entry of an ordered-by user list (RFC 7950 §7.8.6), "" for none.
	insert, insertKey string
	children          []*xnode
}

// child returns the child element named name with key child keyName =
// key (none when keyName is empty), adding it when missing.
func (x *xnode) child(name, ns, keyName, key string) *xnode {
	for _, c := range x.children {
		if c.name != name || c.ns != ns || c.op != "" {
			continue
		}
		if keyName == "" {
			if c.text == nil {
				return c
			}
			continue
		}
		for _, k := range c.children {
			if k.name == keyName && k.text != nil && *k.text == key {
				return c
			}
		}
	}
	c := &xnode{name: name, ns: ns}
	if keyName != "" {
		c.leaf(keyName, ns, key)
	}
	x.children = append(x.children, c)
	return c
}

// leaf adds a leaf element with a value.
func (x *xnode) leaf(name, ns, value string) *xnode {
	c := &xnode{name: name, ns: ns, text: &value}
	x.children = append(x.children, c)
	return c
}

// write appends the element to b; parentNS is the namespace in scope, and
// an element in another one declares its own.
func (x *xnode) write(b *bytes.Buffer, parentNS string) {
	b.WriteByte('<')
	b.WriteString(x.name)
	if x.ns != parentNS {
		b.WriteString(` xmlns="`)
		_ = xml.EscapeText(b, []byte(x.ns))
		b.WriteByte('"')
	}
	if x.op != "" {
		b.WriteString(` xmlns:nc="` + NSBase + `" nc:operation="` + x.op + `"`)
	}
	if x.insert != "" {
		b.WriteString(` xmlns:yang="` + NSYang + `" yang:insert="` + x.insert + `"`)
		if x.insertKey != "" {
			b.WriteString(` yang:key="`)
			_ = xml.EscapeText(b, []byte(x.insertKey))
			b.WriteByte('"')
		}
	}
	if x.text == nil && len(x.children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	if x.text != nil {
		_ = xml.EscapeText(b, []byte(*x.text))
	}
	for _, c := range x.children {
		c.write(b, x.ns)
	}
	b.WriteString("</")
	b.WriteString(x.name)
	b.WriteByte('>')
}

// bytes renders the children of a root xnode.
func (x *xnode) bytes() []byte {
	var b bytes.Buffer
	for _, c := range x.children {
		c.write(&b, x.ns)
	}
	return b.Bytes()
}

// builder builds the XML of data paths.
type builder struct {
	s    *schema.Schema
	root xnode
}

// at returns the element of the container or list entry at p, adding the
// elements of the path (and list keys) as needed.
func (bd *builder) at(p schema.DataPath) (*xnode, error) {
	x := &bd.root
	b := bd.s.RootBinding()
	for i, el := range p {
		f := b.Field(el.Name)
		if f == nil || f.Elem == nil {
			return nil, fmt.Errorf("cli: %s: no node %q", p[:i], el.Name)
		}
		ns := f.Entry.Namespace().Name
		x = x.child(el.Name, ns, el.KeyName, el.Key)
		b = f.Elem
	}
	return x, nil
}

// editConfig returns the content of <config> that makes change ch.
func editConfig(s *schema.Schema, ch *Change) ([]byte, error) {
	bd := &builder{s: s}
	for _, op := range ch.Ops {
		x, err := bd.at(op.Path)
		if err != nil {
			return nil, err
		}
		if op.Field != nil {
			x.leaf(op.Field.Name, op.Field.Entry.Namespace().Name, op.Value)
		}
	}
	if _, err := bd.at(ch.Path); err != nil {
		return nil, err
	}
	return bd.root.bytes(), nil
}

// deleteConfig returns the content of <config> that deletes target t: the
// node at t.Path, or its leaf t.Leaf, or one value of leaf-list t.Leaf.
// A whole leaf-list is deleted value by value (an element per value,
// RFC 7950 §7.7.9): values are its current values.
func deleteConfig(s *schema.Schema, t *Target, values []string) ([]byte, error) {
	if len(t.Path) == 0 && t.Leaf == nil {
		return nil, fmt.Errorf("cli: del needs a path: deleting everything is not allowed")
	}
	if t.List != nil {
		return nil, fmt.Errorf("cli: del %s needs a %s", t.List.Name, t.List.Elem.Fields[t.List.KeyIndex].Name)
	}
	bd := &builder{s: s}
	if t.Leaf == nil {
		parentPath, last := t.Path[:len(t.Path)-1], t.Path[len(t.Path)-1]
		parent, err := bd.at(parentPath)
		if err != nil {
			return nil, err
		}
		pb, err := (&Editor{S: s}).BindingAt(parentPath)
		if err != nil {
			return nil, err
		}
		f := pb.Field(last.Name)
		parent.child(last.Name, f.Entry.Namespace().Name, last.KeyName, last.Key).op = "delete"
		return bd.root.bytes(), nil
	}
	x, err := bd.at(t.Path)
	if err != nil {
		return nil, err
	}
	ns := t.Leaf.Entry.Namespace().Name
	switch {
	case t.Leaf.Kind == schema.KindLeaf:
		x.children = append(x.children, &xnode{name: t.Leaf.Name, ns: ns, op: "delete"})
	case t.Value != "":
		x.leaf(t.Leaf.Name, ns, t.Value).op = "delete"
	case len(values) == 0:
		return nil, fmt.Errorf("cli: %s %s has no value to delete", Words(t.Path), t.Leaf.Name)
	default:
		for _, v := range values {
			x.leaf(t.Leaf.Name, ns, v).op = "delete"
		}
	}
	return bd.root.bytes(), nil
}

// subtreeFilter returns a subtree filter (RFC 6241 §6) selecting target
// t: the path's keys are content match nodes, the end a selection node.
func subtreeFilter(s *schema.Schema, t *Target) ([]byte, error) {
	bd := &builder{s: s}
	x, err := bd.at(t.Path)
	if err != nil {
		return nil, err
	}
	switch {
	case t.Leaf != nil:
		x.children = append(x.children, &xnode{name: t.Leaf.Name, ns: t.Leaf.Entry.Namespace().Name})
	case t.List != nil:
		x.children = append(x.children, &xnode{name: t.List.Name, ns: t.List.Entry.Namespace().Name})
	}
	if len(bd.root.children) == 0 {
		return nil, nil // the root: no filter
	}
	return bd.root.bytes(), nil
}

// keysFilter is subtreeFilter for a list target t with its session keys:
// the server writes a secret state leaf only when a filter names it
// (xmlcodec.EncodeOptions.Secrets), so every child of the list entry is
// named as a selection node, and the lists and containers that hold such
// keys (child-sa) are descended into the same way ('show ike ike-sa
// with-keys').
func keysFilter(s *schema.Schema, t *Target) ([]byte, error) {
	if t.List == nil {
		return subtreeFilter(s, t)
	}
	bd := &builder{s: s}
	x, err := bd.at(t.Path)
	if err != nil {
		return nil, err
	}
	l := &xnode{name: t.List.Name, ns: t.List.Entry.Namespace().Name}
	selectEvery(l, t.List.Elem)
	x.children = append(x.children, l)
	return bd.root.bytes(), nil
}

// selectEvery names every child of b under x; see keysFilter.
func selectEvery(x *xnode, b *schema.Binding) {
	for i := range b.Fields {
		f := &b.Fields[i]
		c := &xnode{name: f.Name, ns: f.Entry.Namespace().Name}
		if f.Elem != nil && holdsStateSecret(f.Elem) {
			selectEvery(c, f.Elem)
		}
		x.children = append(x.children, c)
	}
}

// holdsStateSecret reports whether a secret state leaf is in b or below.
func holdsStateSecret(b *schema.Binding) bool {
	for i := range b.Fields {
		f := &b.Fields[i]
		if (f.Secret && !f.Config) || (f.Elem != nil && holdsStateSecret(f.Elem)) {
			return true
		}
	}
	return false
}
