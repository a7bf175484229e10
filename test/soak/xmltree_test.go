package soak

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
)

// node is an XML element by local name, for comparing configurations
// regardless of namespace prefixes, whitespace and the order of siblings.
type node struct {
	name string
	text string
	kids []*node
}

// parseXML parses a fragment (several top-level elements allowed) into a
// root node named "".
func parseXML(s string) (*node, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	root := &node{}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			return nil, fmt.Errorf("soak: parsing XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local}
			top := stack[len(stack)-1]
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top := stack[len(stack)-1]
			top.text += strings.TrimSpace(string(tok))
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("soak: unbalanced XML")
	}
	return root, nil
}

// child returns the first child named name, nil if none.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// all returns the children named name.
func (n *node) all(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// textOf is the text of child name, "" if absent.
func (n *node) textOf(name string) string {
	if c := n.child(name); c != nil {
		return c.text
	}
	return ""
}

// canon is n in a canonical text form: children sorted, one per line,
// indented.
func (n *node) canon() string {
	var b strings.Builder
	n.write(&b, "")
	return b.String()
}

func (n *node) write(b *strings.Builder, indent string) {
	if len(n.kids) == 0 {
		fmt.Fprintf(b, "%s%s %q\n", indent, n.name, n.text)
		return
	}
	fmt.Fprintf(b, "%s%s\n", indent, n.name)
	kids := make([]string, len(n.kids))
	for i, k := range n.kids {
		var kb strings.Builder
		k.write(&kb, indent+"  ")
		kids[i] = kb.String()
	}
	slices.Sort(kids)
	for _, k := range kids {
		b.WriteString(k)
	}
}
