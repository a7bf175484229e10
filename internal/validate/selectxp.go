package validate

import (
	"fmt"
	"reflect"

	"secgw/generated"
	"secgw/internal/schema"
	"secgw/internal/xpath"
)

// Selection is one node an XPath expression selected: its path, and for a
// leaf-list, which value.
type Selection struct {
	Path     schema.DataPath
	Value    string
	LeafList bool
}

// Select evaluates an XPath 1.0 expression (a NETCONF xpath filter, RFC
// 6241 §8.9) on tree d from its root, and returns the selected nodes.
// Prefixes in names are ignored.
func (v *Validator) Select(d *generated.Device, expr string) ([]Selection, error) {
	x, err := xpath.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	root := &xnode{plan: v.root, v: reflect.ValueOf(d).Elem()}
	nodes, err := x.EvalNodes(root, root)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	out := make([]Selection, 0, len(nodes))
	for _, n := range nodes {
		xn, ok := n.(*xnode)
		if !ok || xn.parent == nil {
			continue
		}
		sel := Selection{Path: xn.dataPath()}
		if xn.plan == nil && xn.fp.f.Kind == schema.KindLeafList {
			sel.Value, sel.LeafList = xn.value, true
		}
		out = append(out, sel)
	}
	return out, nil
}

// dataPath returns the path of x as a schema.DataPath.
func (x *xnode) dataPath() schema.DataPath {
	var rev []*xnode
	for n := x; n != nil && n.parent != nil; n = n.parent {
		rev = append(rev, n)
	}
	p := make(schema.DataPath, 0, len(rev))
	for i := len(rev) - 1; i >= 0; i-- {
		n := rev[i]
		e := schema.Elem{Name: n.fp.f.Name}
		if n.fp.f.Kind == schema.KindList {
			e.KeyName = schema.KeyNames(n.plan.b.Entry)[0]
			e.Key = n.key()
		}
		p = append(p, e)
	}
	return p
}
