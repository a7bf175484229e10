package xmlcodec

import (
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"

	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// Filter is a parsed subtree filter (RFC 6241 §6): the elements inside
// <filter type="subtree">. A nil *Filter in EncodeOptions selects
// everything; a Filter without nodes selects nothing (§6.4.2).
type Filter struct {
	// Nodes are the top-level filter elements.
	Nodes []*FilterNode
}

// FilterNode is one element of a subtree filter. With children it is a
// containment node; without children, with non-blank text, a content
// match node (when it names a leaf or leaf-list); otherwise a selection
// node.
type FilterNode struct {
	// Space is the element's namespace. An element without namespace
	// matches the node of that name whatever its module (a leniency that
	// common servers share; RFC 6241 §6.2.1 only speaks of filters with
	// namespaces).
	Space string
	// Name is the element's local name.
	Name string
	// Text is the element's character data, untrimmed.
	Text string
	// Children are the element's child elements, in document order.
	Children []*FilterNode
}

// maxDepth bounds the nesting of the XML the codec reads: far beyond the
// depth of the schema, short of any stack concern.
const maxDepth = 64

// ParseFilter reads a subtree filter: either a <filter> element (in the
// NETCONF base namespace or none; its type attribute, when present, must
// be "subtree") or directly the sequence of elements it contains.
// Attributes of filter elements other than namespace declarations are
// ignored: our data nodes carry no attributes to match (§6.2.2).
func ParseFilter(r io.Reader) (*Filter, error) {
	dec := xml.NewDecoder(r)
	var top []*FilterNode
	var stack []*FilterNode
	var filterType string
	var hasType []bool // per top-level element: its type attribute
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, malformed(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, newError(typeRPC, "malformed-message", "", "filter nested deeper than %d elements", maxDepth)
			}
			n := &FilterNode{Space: t.Name.Space, Name: t.Name.Local}
			if len(stack) == 0 {
				top = append(top, n)
				typ, found := "", false
				for _, a := range t.Attr {
					if a.Name.Local == "type" && (a.Name.Space == "" || a.Name.Space == NetconfNS) {
						typ, found = a.Value, true
					}
				}
				if found {
					filterType = typ
				}
				hasType = append(hasType, found)
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			} else if strings.TrimSpace(string(t)) != "" {
				return nil, newError(typeRPC, "malformed-message", "", "text outside of the filter elements")
			}
		case xml.Directive:
			return nil, newError(typeRPC, "malformed-message", "", "XML directives (DTD) are not accepted")
		}
	}
	if len(top) == 1 && top[0].Name == "filter" && (top[0].Space == NetconfNS || top[0].Space == "") {
		if hasType[0] {
			switch filterType {
			case "subtree":
			case "xpath":
				return nil, newError(typeProt, "operation-not-supported", "", "XPath filters are not supported (no :xpath capability); use a subtree filter").WithInfo("bad-attribute", "type", "bad-element", "filter")
			default:
				return nil, newError(typeProt, "bad-attribute", "", "filter type %q is neither subtree nor xpath", filterType).WithInfo("bad-attribute", "type", "bad-element", "filter")
			}
		}
		return &Filter{Nodes: top[0].Children}, nil
	}
	return &Filter{Nodes: top}, nil
}

func malformed(err error) *rpcerr.Error {
	return newError(typeRPC, "malformed-message", "", "malformed XML: %v", err)
}

// matches reports whether filter element n names the node fp.
func (n *FilterNode) matches(fp *fieldPlan) bool {
	return n.Name == fp.f.Name && (n.Space == "" || n.Space == fp.ns)
}

// blank reports whether n has no text but whitespace.
func (n *FilterNode) blank() bool { return strings.TrimSpace(n.Text) == "" }

// Kinds of filter nodes in a sibling set (RFC 6241 §6.2.3 to §6.2.5).
const (
	selectionNode = iota
	containmentNode
	contentMatchNode
)

// classify says what filter element c is among the children of a node of
// plan p. An element naming no node of p with text is a content match
// that fails; without text it selects nothing.
func classify(p *plan, c *FilterNode) (int, *fieldPlan) {
	var fp *fieldPlan
	for i := range p.fields {
		if c.matches(&p.fields[i]) {
			fp = &p.fields[i]
			break
		}
	}
	switch {
	case len(c.Children) > 0:
		return containmentNode, fp
	case c.blank():
		return selectionNode, fp
	case fp == nil || fp.f.Kind == schema.KindLeaf || fp.f.Kind == schema.KindLeafList:
		return contentMatchNode, fp
	}
	return selectionNode, fp // text in a container element: ignored
}

// canonical returns the canonical form of a filter value for leaf fp, ok
// false when it is not a value of the leaf's type (it then matches
// nothing).
func (e *encoder) canonical(fp *fieldPlan, text string) (string, bool) {
	if fp.trim {
		text = strings.TrimSpace(text)
	}
	v, err := e.c.s.ParseValue(fp.f, text)
	if err != nil {
		return "", false
	}
	return e.c.s.Format(v)
}

// contentMatch evaluates the content match nodes of filter element fe
// against node n (§6.2.5): true when all of them match; the second result
// says whether fe has content match nodes, the third whether it has only
// those (then the whole node is selected).
func (e *encoder) contentMatch(n schema.Node, p *plan, fe *FilterNode) (ok, some, only bool) {
	only = true
	for _, c := range fe.Children {
		kind, fp := classify(p, c)
		if kind != contentMatchNode {
			only = false
			continue
		}
		some = true
		// A node the reader may not read is not there to match (RFC 8341
		// §3.2.4), whatever its value.
		if fp == nil || e.hidden(fp) || !e.readable(fp) {
			return false, some, false
		}
		want, valid := e.canonical(fp, c.Text)
		if !valid {
			return false, some, false
		}
		if fp.f.Kind == schema.KindLeafList {
			found := false
			if n.V.IsValid() {
				for _, v := range n.LeafList(e.c.s, fp.f) {
					if v == want {
						found = true
						break
					}
				}
			}
			if !found {
				return false, some, false
			}
			continue
		}
		if v, _, present := e.leafValue(n, fp); !present || v != want {
			return false, some, false
		}
	}
	return true, some, only
}

// wanted returns the leaf-list values that filter elements sub select, nil
// when they select all of them.
func (e *encoder) wanted(sub []*FilterNode, fp *fieldPlan) map[string]bool {
	var set map[string]bool
	for _, c := range sub {
		if len(c.Children) > 0 || c.blank() {
			return nil
		}
		if v, ok := e.canonical(fp, c.Text); ok {
			if set == nil {
				set = map[string]bool{}
			}
			set[v] = true
		}
	}
	if set == nil {
		set = map[string]bool{} // only values of the wrong type: none
	}
	return set
}

// matching returns the children of the filter elements fes that name fp.
func matching(fes []*FilterNode, fp *fieldPlan) []*FilterNode {
	var out []*FilterNode
	for _, fe := range fes {
		for _, c := range fe.Children {
			if c.matches(fp) {
				out = append(out, c)
			}
		}
	}
	return out
}

// selectsAll reports whether one of the filter elements sub, which name a
// container or list, is a selection node (no children): it selects the
// whole subtree.
func selectsAll(sub []*FilterNode) bool {
	for _, c := range sub {
		if len(c.Children) == 0 {
			return true
		}
	}
	return false
}

// entries returns the entries of list fp of n, in key order (an
// ordered-by user list's: in its order), that filter
// elements sub (all: none) can select. When each of them matches the
// list's key by content, those are the entries with these keys, looked up
// by key: a filter for one VPN among 100k costs a lookup, not a walk of
// the list. The filter is then applied to them as to any entry.
func (e *encoder) entries(n schema.Node, fp *fieldPlan, all bool, sub []*FilterNode) []schema.Node {
	if all || fp.f.Ordered {
		// An ordered-by user list is short, and read in its order.
		return n.Entries(fp.f)
	}
	kf := &fp.f.Elem.Fields[fp.f.KeyIndex]
	var keys []reflect.Value
	for _, fe := range sub {
		var key *FilterNode
		var keyPlan *fieldPlan
		for _, c := range fe.Children {
			if kind, cp := classify(fp.elem, c); kind == contentMatchNode && cp != nil && cp.isKey {
				key, keyPlan = c, cp
				break
			}
		}
		if key == nil {
			return n.Entries(fp.f) // this element may select any entry
		}
		str, ok := e.canonical(keyPlan, key.Text)
		if !ok {
			continue // a value the key cannot have: it selects nothing
		}
		v, err := e.c.s.ParseValue(kf, str)
		if err != nil {
			continue
		}
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		keys = append(keys, v)
	}
	schema.SortKeys(keys)
	var out []schema.Node
	for i, k := range keys {
		if i > 0 && k.Equal(keys[i-1]) {
			continue
		}
		if en, ok := n.Lookup(fp.f, k); ok {
			out = append(out, en)
		}
	}
	return out
}
