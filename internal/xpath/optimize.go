package xpath

// visit calls f for x and every expression below it, including predicates.
func visit(x exprNode, f func(exprNode)) {
	f(x)
	switch x := x.(type) {
	case *logicExpr:
		visit(x.l, f)
		visit(x.r, f)
	case *compareExpr:
		visit(x.l, f)
		visit(x.r, f)
	case *arithExpr:
		visit(x.l, f)
		visit(x.r, f)
	case *unionExpr:
		visit(x.l, f)
		visit(x.r, f)
	case *negExpr:
		visit(x.x, f)
	case *callExpr:
		for _, a := range x.args {
			visit(a, f)
		}
	case *filterExpr:
		visit(x.primary, f)
		for _, p := range x.preds {
			visit(p.x, f)
		}
	case *pathExpr:
		if x.filter != nil {
			visit(x.filter, f)
		}
		for _, s := range x.steps {
			for _, p := range s.preds {
				visit(p.x, f)
			}
		}
	}
}

// optimize rewrites the compiled tree for evaluation; it runs after Paths
// were collected, so they still show the expression as written.
func optimize(root exprNode) {
	visit(root, func(x exprNode) {
		switch x := x.(type) {
		case *pathExpr:
			x.steps = mergeDescendant(x.steps)
			for i := range x.steps {
				s := &x.steps[i]
				for j := range s.preds {
					findKey(&s.preds[j])
				}
				s.indexable = s.axis == AxisChild && s.test == TestName && s.name != "*" &&
					len(s.preds) > 0 && s.preds[0].keyLeaf != ""
			}
		case *filterExpr:
			for j := range x.preds {
				findKey(&x.preds[j])
			}
		}
	})
}

// mergeDescendant rewrites descendant-or-self::node()/child::X (what '//'
// abbreviates, XPath 1.0 §2.5) into descendant::X, which selects the same
// nodes without building and sorting the set of all descendants. It is only
// equivalent when X's predicates do not look at positions, and only for name
// and node() tests (child::text() of a leaf is the leaf itself here).
func mergeDescendant(steps []step) []step {
	for i := 0; i+1 < len(steps); i++ {
		a, b := steps[i], steps[i+1]
		if a.axis != AxisDescendantOrSelf || a.test != TestNode || len(a.preds) > 0 ||
			b.axis != AxisChild || b.test == TestText {
			continue
		}
		positional := false
		for _, p := range b.preds {
			if p.x.kind() == NumberKind || usesPosition(p.x) {
				positional = true
			}
		}
		if positional {
			continue
		}
		b.axis = AxisDescendant
		steps = append(steps[:i], append([]step{b}, steps[i+2:]...)...)
	}
	return steps
}

// usesPosition reports whether x calls position() or last() anywhere.
func usesPosition(x exprNode) bool {
	found := false
	visit(x, func(n exprNode) {
		if c, ok := n.(*callExpr); ok && (c.def.name == "position" || c.def.name == "last") {
			found = true
		}
	})
	return found
}

// findKey recognises a predicate [leaf = v] or [v = leaf] where v does not
// depend on the context node and is a string or node-set (compared by
// string-value, XPath 1.0 §3.4). Such a predicate is evaluated by computing v
// once and comparing it with each node's leaf children, or by an Indexer.
func findKey(p *predicate) {
	c, ok := p.x.(*compareExpr)
	if !ok || c.op != opEq {
		return
	}
	for _, pair := range [2][2]exprNode{{c.l, c.r}, {c.r, c.l}} {
		leaf, v := pair[0], pair[1]
		name := simpleChild(leaf)
		if name == "" || (v.kind() != StringKind && v.kind() != NodeSetKind) || !contextFree(v) {
			continue
		}
		p.keyLeaf, p.keyExpr = name, v
		return
	}
}

// simpleChild returns the name of a one-step relative path child::name
// without predicates, or "".
func simpleChild(x exprNode) string {
	p, ok := x.(*pathExpr)
	if !ok || p.filter != nil || p.abs || len(p.steps) != 1 {
		return ""
	}
	s := p.steps[0]
	if s.axis != AxisChild || s.test != TestName || s.name == "*" || len(s.preds) > 0 || s.ns != "" {
		return "" // a key predicate compares the leaves by name only
	}
	return s.name
}

// contextFree reports whether x evaluates the same for every context node,
// position and size: it uses no relative path, position(), last() or
// zero-argument function reading the context node. Predicates inside paths
// have their own context and do not count.
func contextFree(x exprNode) bool {
	switch x := x.(type) {
	case *literalExpr:
		return true
	case *pathExpr:
		if x.filter != nil {
			return contextFree(x.filter)
		}
		return x.abs
	case *filterExpr:
		return contextFree(x.primary)
	case *callExpr:
		switch {
		case x.def.name == "position" || x.def.name == "last":
			return false
		case len(x.args) == 0 && x.def.ctxArg:
			return false
		}
		for _, a := range x.args {
			if !contextFree(a) {
				return false
			}
		}
		return true
	case *logicExpr:
		return contextFree(x.l) && contextFree(x.r)
	case *compareExpr:
		return contextFree(x.l) && contextFree(x.r)
	case *arithExpr:
		return contextFree(x.l) && contextFree(x.r)
	case *unionExpr:
		return contextFree(x.l) && contextFree(x.r)
	case *negExpr:
		return contextFree(x.x)
	}
	return false
}
