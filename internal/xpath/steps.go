package xpath

import (
	"cmp"
	"math/bits"
	"slices"
)

// step is a compiled location step (XPath 1.0 §2.1).
type step struct {
	axis   Axis
	test   NodeTest
	prefix string
	// ns is the namespace URI bound to prefix (CompileNS); empty when
	// the name test matches any namespace.
	ns    string
	name  string
	preds []predicate
	// indexable: a child step by name whose first predicate is a key
	// predicate, which an Indexer can answer.
	indexable bool
}

func (s *step) public() Step {
	return Step{Axis: s.axis, Test: s.test, Prefix: s.prefix, Name: s.name, Predicates: len(s.preds)}
}

// predicate is a compiled predicate (XPath 1.0 §2.4).
type predicate struct {
	x exprNode
	// konst is the position of a constant numeric predicate such as [1];
	// -1 if the constant can never equal a position; 0 if not constant.
	konst int
	// keyLeaf and keyExpr describe a predicate [keyLeaf = keyExpr] whose
	// right side does not depend on the context; see Indexer.
	keyLeaf string
	keyExpr exprNode
}

// match applies the node test to n; root tells whether n is the root node,
// which only node() matches (XPath 1.0 §2.3, §5.1).
func (s *step) match(n Node, root bool) bool {
	switch s.test {
	case TestNode:
		return true
	case TestText:
		_, ok := n.Value()
		return ok && !root
	}
	return !root && (s.name == "*" || n.Name() == s.name) && inNamespace(n, s.ns)
}

// inNamespace reports whether n may match a name test bound to namespace
// ns ("" for any).
func inNamespace(n Node, ns string) bool {
	if ns == "" {
		return true
	}
	nn, ok := n.(NamespaceNode)
	return !ok || nn.Namespace() == ns
}

// inNS narrows the children an axis or an Indexer found by name to those
// of the step's namespace. The set is borrowed: it is returned as it is
// when nothing goes, and copied otherwise.
func (s *step) inNS(set []Node) []Node {
	if s.ns == "" {
		return set
	}
	for i, n := range set {
		if !inNamespace(n, s.ns) {
			out := append([]Node(nil), set[:i]...)
			for _, m := range set[i+1:] {
				if inNamespace(m, s.ns) {
					out = append(out, m)
				}
			}
			return out
		}
	}
	return set
}

// pathExpr is a location path, or a filter expression followed by steps
// (XPath 1.0 §2, §3.3).
type pathExpr struct {
	filter exprNode // nil for a location path
	abs    bool
	steps  []step
}

func (x *pathExpr) kind() Kind { return NodeSetKind }

func (x *pathExpr) eval(ev *evaluator) (Value, error) {
	if x.filter != nil {
		v, err := x.filter.eval(ev)
		if err != nil {
			return Value{}, err
		}
		n, err := ev.walk(v.nodes, x.steps, false, false)
		return nodeSetVal(n), err
	}
	start := ev.ctx
	if x.abs {
		start = ev.rootNode()
	}
	n, err := ev.walkFrom(start, x.steps)
	return nodeSetVal(n), err
}

// filterExpr is a primary expression with predicates; positions count in
// document order (XPath 1.0 §3.3).
type filterExpr struct {
	primary exprNode
	preds   []predicate
}

func (x *filterExpr) kind() Kind { return NodeSetKind }

func (x *filterExpr) eval(ev *evaluator) (Value, error) {
	v, err := x.primary.eval(ev)
	if err != nil {
		return Value{}, err
	}
	set := v.nodes
	for i := range x.preds {
		if set, err = ev.filter(set, &x.preds[i]); err != nil || len(set) == 0 {
			return nodeSetVal(set), err
		}
	}
	return nodeSetVal(set), nil
}

// walkFrom applies steps to the single node n. Parent and self steps without
// predicates, the bulk of YANG paths, move n without building a node-set.
func (ev *evaluator) walkFrom(n Node, steps []step) ([]Node, error) {
	for i := range steps {
		st := &steps[i]
		if len(st.preds) == 0 {
			switch st.axis {
			case AxisParent:
				p := n.Parent()
				if p == nil || !st.match(p, st.test != TestNode && p.Parent() == nil) {
					return nil, nil
				}
				n = p
				continue
			case AxisSelf:
				if !st.match(n, st.test != TestNode && n.Parent() == nil) {
					return nil, nil
				}
				continue
			}
		}
		set, err := ev.stepOne(n, st)
		switch {
		case err != nil || len(set) == 0:
			return nil, err
		case i+1 == len(steps):
			return set, nil
		case len(set) == 1:
			n = set[0]
		default:
			// Results of these axes from one node neither nest nor differ in
			// depth, which lets walk skip sorting.
			flat := st.axis == AxisChild || st.axis == AxisSelf || st.axis == AxisParent ||
				st.axis == AxisFollowingSibling || st.axis == AxisPrecedingSibling
			return ev.walk(set, steps[i+1:], flat, flat)
		}
	}
	return ev.one(n), nil
}

// walk applies steps to a node-set in document order. flat means no node of
// set is an ancestor of another; level means all are at the same depth. They
// decide when the union of the per-node results is already in document order
// (XPath 1.0 §2: a location step's result is in document order).
func (ev *evaluator) walk(set []Node, steps []step, flat, level bool) ([]Node, error) {
	for i := range steps {
		switch len(set) {
		case 0:
			return nil, nil
		case 1:
			return ev.walkFrom(set[0], steps[i:])
		}
		st := &steps[i]
		var out []Node
		for _, n := range set {
			r, err := ev.stepOne(n, st)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
		switch st.axis {
		case AxisSelf:
			// A subset of set, in order.
		case AxisChild:
			if !flat {
				out = ev.sortDocOrder(out)
			}
		case AxisParent:
			if flat && level {
				out = dedupAdjacent(out)
			} else {
				out = ev.sortDocOrder(out)
			}
			flat = level
		case AxisDescendant, AxisDescendantOrSelf:
			if !flat {
				out = ev.sortDocOrder(out)
			}
			flat, level = false, false
		default:
			out = ev.sortDocOrder(out)
			flat, level = false, false
		}
		set = out
	}
	return set, nil
}

// stepOne applies one step with its predicates to n and returns the result in
// document order. Predicates see proximity positions in axis order, which is
// reverse document order for reverse axes (XPath 1.0 §2.4).
func (ev *evaluator) stepOne(n Node, st *step) ([]Node, error) {
	preds := st.preds
	var set []Node
	indexed := false
	if st.indexable {
		if ix, ok := n.(Indexer); ok {
			var err error
			set, indexed, err = ev.lookup(ix, st, &preds[0])
			if err != nil {
				return nil, err
			}
			if indexed {
				preds = preds[1:]
			}
		}
	}
	if !indexed {
		set = ev.axis(n, st)
	}
	for i := range preds {
		if len(set) == 0 {
			return nil, nil
		}
		var err error
		if set, err = ev.filter(set, &preds[i]); err != nil {
			return nil, err
		}
	}
	if st.axis.reverse() && len(set) > 1 {
		slices.Reverse(set) // set was freshly built by axis
	}
	return set, nil
}

// keyValue evaluates the context-free side of a key predicate. It returns
// the string every matching node's leaf must equal, or none=true if nothing
// can match (an empty node-set), or usable=false if the value is a node-set
// of several nodes and the predicate must be evaluated per node.
func (ev *evaluator) keyValue(p *predicate) (key string, none, usable bool, err error) {
	mark := len(ev.arena)
	defer func() { ev.arena = ev.arena[:mark] }()
	v, err := p.keyExpr.eval(ev)
	switch {
	case err != nil:
		return "", false, false, err
	case v.kind == StringKind:
		return v.str, false, true, nil
	case len(v.nodes) == 1:
		return ev.stringValue(v.nodes[0]), false, true, nil
	case len(v.nodes) == 0:
		return "", true, true, nil
	}
	return "", false, false, nil
}

// lookup serves a key predicate from an Indexer. indexed=false means the
// caller must scan.
func (ev *evaluator) lookup(ix Indexer, st *step, p *predicate) ([]Node, bool, error) {
	key, none, usable, err := ev.keyValue(p)
	switch {
	case err != nil || !usable:
		return nil, false, err
	case none:
		return nil, true, nil
	}
	set, ok := ix.ChildrenByValue(st.name, p.keyLeaf, key)
	ev.charge(1 + len(set))
	return st.inNS(set), ok, nil
}

// keyFilter evaluates a key predicate by computing its key once and
// comparing it with each node's leaf children: the same result as
// evaluating leaf = key per node, without re-evaluating the key.
func (ev *evaluator) keyFilter(set []Node, p *predicate) (out []Node, done bool, err error) {
	key, none, usable, err := ev.keyValue(p)
	switch {
	case err != nil || !usable:
		return nil, false, err
	case none:
		return nil, true, nil
	}
	start, end, owned := -1, -1, false
	for i, n := range set {
		keep := false
		ev.charge(1)
		for _, c := range n.Children(p.keyLeaf) {
			if ev.stringValue(c) == key {
				keep = true
				break
			}
		}
		if keep {
			out, start, end, owned = keepNode(out, set, i, start, end, owned)
		}
	}
	return subset(out, set, start, end, owned), true, nil
}

// keepNode records that set[i] is kept. While the kept nodes are contiguous
// they are tracked as set[start:end]; the first gap copies them to out.
func keepNode(out, set []Node, i, start, end int, owned bool) ([]Node, int, int, bool) {
	switch {
	case owned:
		out = append(out, set[i])
	case start < 0:
		start, end = i, i+1
	case end == i:
		end++
	default:
		out = make([]Node, 0, end-start+4)
		out = append(append(out, set[start:end]...), set[i])
		owned = true
	}
	return out, start, end, owned
}

// subset returns the nodes recorded by keepNode.
func subset(out, set []Node, start, end int, owned bool) []Node {
	switch {
	case owned:
		return out
	case start < 0:
		return nil
	}
	return set[start:end:end]
}

// filter keeps the nodes of set for which p is true (XPath 1.0 §2.4): a
// number is compared with the proximity position, anything else converted
// with boolean(). The result shares set's backing array while the kept nodes
// are contiguous, so selecting one list entry allocates nothing.
func (ev *evaluator) filter(set []Node, p *predicate) ([]Node, error) {
	if p.konst != 0 {
		if p.konst > 0 && p.konst <= len(set) {
			return set[p.konst-1 : p.konst : p.konst], nil
		}
		return nil, nil
	}
	if p.keyLeaf != "" {
		if out, done, err := ev.keyFilter(set, p); done || err != nil {
			return out, err
		}
	}
	ctx, pos, size := ev.ctx, ev.pos, ev.size
	defer func() { ev.ctx, ev.pos, ev.size = ctx, pos, size }()
	var out []Node
	start, end, owned := -1, -1, false
	ev.size = len(set)
	for i, n := range set {
		ev.charge(1)
		ev.ctx, ev.pos = n, i+1
		mark := len(ev.arena)
		v, err := p.x.eval(ev)
		if err != nil {
			return nil, err
		}
		var keep bool
		if v.kind == NumberKind {
			keep = v.num == float64(i+1)
		} else {
			keep = v.Bool()
		}
		ev.arena = ev.arena[:mark]
		if keep {
			out, start, end, owned = keepNode(out, set, i, start, end, owned)
		}
	}
	return subset(out, set, start, end, owned), nil
}

// axis returns the nodes of st's axis from n that pass the node test, in axis
// order (XPath 1.0 §2.2). Child and following-sibling results may be the
// slice returned by Children and must not be modified; the results of reverse
// axes are always freshly allocated. The nodes are charged to the budget;
// the sibling and document axes charge what they look at, found or not.
func (ev *evaluator) axis(n Node, st *step) []Node {
	out := ev.axisNodes(n, st)
	ev.charge(1 + len(out))
	return out
}

func (ev *evaluator) axisNodes(n Node, st *step) []Node {
	switch st.axis {
	case AxisChild:
		switch st.test {
		case TestName:
			return st.inNS(n.Children(st.name))
		case TestNode:
			return n.Children("*")
		}
		if _, ok := n.Value(); ok {
			return ev.one(n) // a leaf stands in for its text node
		}
		return nil
	case AxisSelf:
		if st.match(n, st.test != TestNode && n.Parent() == nil) {
			return ev.one(n)
		}
		return nil
	case AxisParent:
		if p := n.Parent(); p != nil && st.match(p, st.test != TestNode && p.Parent() == nil) {
			return ev.one(p)
		}
		return nil
	case AxisAncestor, AxisAncestorOrSelf:
		var out []Node
		cur := n
		if st.axis == AxisAncestor {
			cur = n.Parent()
		}
		for cur != nil {
			p := cur.Parent()
			if st.match(cur, p == nil) {
				out = append(out, cur)
			}
			cur = p
		}
		return out
	case AxisDescendant, AxisDescendantOrSelf:
		var out []Node
		if st.axis == AxisDescendantOrSelf && st.match(n, st.test != TestNode && n.Parent() == nil) {
			out = append(out, n)
		}
		return ev.descend(n, st, out)
	case AxisFollowingSibling, AxisPrecedingSibling:
		p := n.Parent()
		if p == nil {
			return nil
		}
		sibs := p.Children("*")
		ev.charge(len(sibs))
		i := slices.Index(sibs, n)
		if i < 0 {
			return nil
		}
		if st.axis == AxisFollowingSibling {
			if st.test == TestNode || (st.test == TestName && st.name == "*") {
				return sibs[i+1:]
			}
			return appendMatching(nil, sibs[i+1:], st)
		}
		out := appendMatching(nil, sibs[:i], st)
		slices.Reverse(out)
		return out
	case AxisFollowing:
		// Following siblings of n and of each ancestor, with their subtrees.
		var out []Node
		for cur := n; ; {
			p := cur.Parent()
			if p == nil {
				return out
			}
			sibs := p.Children("*")
			ev.charge(len(sibs))
			if i := slices.Index(sibs, cur); i >= 0 {
				for _, s := range sibs[i+1:] {
					if st.match(s, false) {
						out = append(out, s)
					}
					out = ev.descend(s, st, out)
				}
			}
			cur = p
		}
	case AxisPreceding:
		// Preceding siblings (with subtrees) of each ancestor-or-self,
		// collected from the top in document order, then reversed.
		var chain []Node
		for cur := n; cur.Parent() != nil; cur = cur.Parent() {
			chain = append(chain, cur)
		}
		var out []Node
		for k := len(chain) - 1; k >= 0; k-- {
			cur := chain[k]
			sibs := cur.Parent().Children("*")
			ev.charge(len(sibs))
			i := slices.Index(sibs, cur)
			for _, s := range sibs[:max(i, 0)] {
				if st.match(s, false) {
					out = append(out, s)
				}
				out = ev.descend(s, st, out)
			}
		}
		slices.Reverse(out)
		return out
	}
	return nil
}

func appendMatching(out, nodes []Node, st *step) []Node {
	for _, s := range nodes {
		if st.match(s, false) {
			out = append(out, s)
		}
	}
	return out
}

// descend appends the descendants of n that pass st's node test, in
// document order, charging every node it visits.
func (ev *evaluator) descend(n Node, st *step, out []Node) []Node {
	kids := n.Children("*")
	ev.charge(len(kids))
	for _, c := range kids {
		if st.match(c, false) {
			out = append(out, c)
		}
		out = ev.descend(c, st, out)
	}
	return out
}

// dedupAdjacent removes adjacent duplicates from an owned slice.
func dedupAdjacent(nodes []Node) []Node {
	return slices.CompactFunc(nodes, func(a, b Node) bool { return a == b })
}

// sortDocOrder sorts an owned slice into document order and removes
// duplicates. Each node is keyed by its chain of ancestors; two chains are
// ordered by the first differing ancestors' positions among their parent's
// children, looked up once per parent.
func (ev *evaluator) sortDocOrder(nodes []Node) []Node {
	if len(nodes) < 2 {
		return nodes
	}
	// n log n comparisons, each walking two ancestor chains.
	ev.charge(len(nodes) * bits.Len(uint(len(nodes))))
	type item struct {
		n     Node
		chain []Node // ancestors-or-self below the root, top first
	}
	items := make([]item, len(nodes))
	for i, n := range nodes {
		var chain []Node
		for c := n; c.Parent() != nil; c = c.Parent() {
			chain = append(chain, c)
		}
		slices.Reverse(chain)
		items[i] = item{n, chain}
	}
	index := map[Node]int{}
	pos := func(n Node) int {
		if i, ok := index[n]; ok {
			return i
		}
		for i, c := range n.Parent().Children("*") {
			index[c] = i
		}
		if i, ok := index[n]; ok {
			return i
		}
		index[n] = -1
		return -1
	}
	slices.SortStableFunc(items, func(a, b item) int {
		k := 0
		for k < len(a.chain) && k < len(b.chain) && a.chain[k] == b.chain[k] {
			k++
		}
		switch {
		case k == len(a.chain) && k == len(b.chain):
			return 0
		case k == len(a.chain):
			return -1 // a is an ancestor of b
		case k == len(b.chain):
			return 1
		}
		return cmp.Compare(pos(a.chain[k]), pos(b.chain[k]))
	})
	out := nodes[:0]
	for i, it := range items {
		if i == 0 || it.n != items[i-1].n {
			out = append(out, it.n)
		}
	}
	clear(nodes[len(out):])
	return out
}
