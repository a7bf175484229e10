package netconf

import (
	"secgw/generated"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// xpathFilter turns an XPath filter (RFC 6241 §8.9) into the subtree
// filter that selects the same nodes: the expression is evaluated on the
// tree, and each selected node becomes a chain of containment nodes down
// to a selection node (list entries matched by their key).
func (srv *Server) xpathFilter(d *generated.Device, expr string) (*xmlcodec.Filter, error) {
	sels, err := srv.validator().Select(d, expr)
	if err != nil {
		return nil, &opError{Type: "application", Tag: "invalid-value", Message: err.Error(), Info: map[string]string{"bad-attribute": "select", "bad-element": "filter"}}
	}
	f := &xmlcodec.Filter{Nodes: []*xmlcodec.FilterNode{}}
	whole := map[*xmlcodec.FilterNode]bool{}
	for _, sel := range sels {
		level := &f.Nodes
		var node *xmlcodec.FilterNode
		for i, e := range sel.Path {
			last := i == len(sel.Path)-1
			node = findChild(*level, e)
			if node == nil {
				node = &xmlcodec.FilterNode{Name: e.Name}
				if e.KeyName != "" {
					node.Children = []*xmlcodec.FilterNode{{Name: e.KeyName, Text: e.Key}}
				}
				if last && sel.LeafList {
					node.Text = sel.Value
				}
				*level = append(*level, node)
			}
			if whole[node] {
				break // an ancestor is selected whole already
			}
			if last && !sel.LeafList {
				whole[node] = true
				// Selected whole: keep only the key match, if any.
				if e.KeyName != "" {
					node.Children = node.Children[:1]
				} else {
					node.Children = nil
				}
			}
			level = &node.Children
		}
	}
	if len(f.Nodes) == 0 {
		// Nothing selected: a filter that matches nothing.
		f.Nodes = []*xmlcodec.FilterNode{{Name: "no-node-selected", Space: "urn:secgw:none"}}
	}
	return f, nil
}

func findChild(nodes []*xmlcodec.FilterNode, e schema.Elem) *xmlcodec.FilterNode {
	for _, n := range nodes {
		if n.Name != e.Name {
			continue
		}
		if e.KeyName == "" {
			if n.Text == "" {
				return n
			}
			continue
		}
		if len(n.Children) > 0 && n.Children[0].Name == e.KeyName && n.Children[0].Text == e.Key {
			return n
		}
	}
	return nil
}
