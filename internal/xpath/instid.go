package xpath

import "fmt"

// InstanceStep is one step of an instance-identifier: a node name and,
// for a list entry, the key predicates that select it.
type InstanceStep struct {
	// Prefix is the module prefix of the name as written, or empty.
	Prefix string
	Name   string
	// Keys are the key predicates of the step, in the order written.
	Keys []KeyPredicate
}

// KeyPredicate is one key predicate [name = 'value'] of a step.
type KeyPredicate struct {
	Prefix string
	Name   string
	// Value is the quoted string's content.
	Value string
}

// ParseInstanceIdentifier parses an instance-identifier as RFC 7950
// §9.13 defines it (the ABNF of §14): absolute location steps of child
// name tests, each optionally followed by key predicates
// [key = 'value']. It is compiled by the XPath parser (an
// instance-identifier is an XPath expression) and then checked to have
// that shape: no other axis, no wildcard, no function, no number, no
// other predicate. Key predicates are not required on list steps, which
// is RFC 8341's node-instance-identifier; whether a step needs keys is a
// matter of the schema, which the caller checks. Leaf-list value and
// position predicates are refused. "/" is the root: no steps.
func ParseInstanceIdentifier(src string) ([]InstanceStep, error) {
	x, err := compile(src, nil)
	if err != nil {
		return nil, err
	}
	p, ok := x.root.(*pathExpr)
	if !ok || p.filter != nil || !p.abs {
		return nil, &Error{Msg: "not an absolute path of node names: an instance-identifier is /name/name[key='value']..."}
	}
	out := make([]InstanceStep, 0, len(p.steps))
	for i := range p.steps {
		s := &p.steps[i]
		if s.axis != AxisChild || s.test != TestName || s.name == "*" {
			return nil, &Error{Msg: fmt.Sprintf("step %d (%s) is not a node name: an instance-identifier names each node", i+1, s.public())}
		}
		st := InstanceStep{Prefix: s.prefix, Name: s.name}
		for _, pr := range s.preds {
			k, err := keyPredicate(pr.x)
			if err != nil {
				return nil, &Error{Msg: fmt.Sprintf("step %d (%s): %v", i+1, s.name, err)}
			}
			st.Keys = append(st.Keys, k)
		}
		out = append(out, st)
	}
	return out, nil
}

// keyPredicate checks that x, a predicate, is name = 'literal' (or
// 'literal' = name, which XPath evaluates the same).
func keyPredicate(x exprNode) (KeyPredicate, error) {
	bad := KeyPredicate{}
	c, ok := x.(*compareExpr)
	if !ok || c.op != opEq {
		return bad, fmt.Errorf("a predicate must be [key = 'value']")
	}
	for _, pair := range [2][2]exprNode{{c.l, c.r}, {c.r, c.l}} {
		lit, ok := pair[1].(*literalExpr)
		if !ok {
			continue
		}
		if lit.v.kind != StringKind {
			return bad, fmt.Errorf("a key value must be a quoted string")
		}
		p, ok := pair[0].(*pathExpr)
		if !ok || p.filter != nil || p.abs || len(p.steps) != 1 {
			break
		}
		s := &p.steps[0]
		if s.axis != AxisChild || s.test != TestName || s.name == "*" || len(s.preds) > 0 {
			break
		}
		return KeyPredicate{Prefix: s.prefix, Name: s.name, Value: lit.v.str}, nil
	}
	return bad, fmt.Errorf("a predicate must be [key = 'value'] (leaf-list values and positions are not supported)")
}
