package xpath

import "strings"

// Axis is an XPath 1.0 axis (XPath 1.0 §2.2). The attribute and namespace
// axes are not supported: YANG data trees have neither.
type Axis uint8

// The supported axes.
const (
	AxisChild Axis = iota
	AxisDescendant
	AxisParent
	AxisAncestor
	AxisFollowingSibling
	AxisPrecedingSibling
	AxisFollowing
	AxisPreceding
	AxisSelf
	AxisDescendantOrSelf
	AxisAncestorOrSelf
)

var axisNames = [...]string{
	AxisChild:            "child",
	AxisDescendant:       "descendant",
	AxisParent:           "parent",
	AxisAncestor:         "ancestor",
	AxisFollowingSibling: "following-sibling",
	AxisPrecedingSibling: "preceding-sibling",
	AxisFollowing:        "following",
	AxisPreceding:        "preceding",
	AxisSelf:             "self",
	AxisDescendantOrSelf: "descendant-or-self",
	AxisAncestorOrSelf:   "ancestor-or-self",
}

// String returns the axis name as written in XPath. Written by hand, not
// by stringer: the parser reads axis names from the same table, and an
// unknown axis prints "axis?".
func (a Axis) String() string {
	if int(a) < len(axisNames) {
		return axisNames[a]
	}
	return "axis?"
}

// reverse reports whether the axis is a reverse axis, whose proximity
// positions count in reverse document order (XPath 1.0 §2.4).
func (a Axis) reverse() bool {
	return a == AxisParent || a == AxisAncestor || a == AxisAncestorOrSelf ||
		a == AxisPreceding || a == AxisPrecedingSibling
}

// NodeTest is the kind of node test of a step (XPath 1.0 §2.3).
type NodeTest uint8

// The supported node tests.
const (
	// TestName is a name test: a (possibly prefixed) name or "*".
	TestName NodeTest = iota
	// TestNode is node(), matching every node.
	TestNode
	// TestText is text(); a leaf stands in for its own text node.
	TestText
)

// Step is one location step of a Path.
type Step struct {
	Axis Axis
	Test NodeTest
	// Prefix is the namespace prefix of a name test as written (ignored
	// when matching).
	Prefix string
	// Name is the local name of a name test, "*" for a wildcard; empty for
	// node() and text().
	Name string
	// Predicates is the number of predicates on the step.
	Predicates int
}

// String renders the step in abbreviated syntax where XPath has one.
func (s Step) String() string {
	var test string
	switch s.Test {
	case TestNode:
		test = "node()"
	case TestText:
		test = "text()"
	default:
		test = s.Name
		if s.Prefix != "" {
			test = s.Prefix + ":" + s.Name
		}
	}
	switch {
	case s.Axis == AxisChild:
		return test
	case s.Axis == AxisParent && s.Test == TestNode:
		return ".."
	case s.Axis == AxisSelf && s.Test == TestNode:
		return "."
	}
	return s.Axis.String() + "::" + test
}

// Path is one location path found in an expression, for dependency analysis.
// At most one of Absolute, Current and Filter is set; with none set the path
// is relative to the context node.
type Path struct {
	// Absolute paths start at the root.
	Absolute bool
	// Current paths start at current() (current()/../vrf, or current() alone).
	Current bool
	// Filter paths apply their steps to the result of a filter expression
	// other than current(), e.g. the y in deref(x)/y or (a|b)/y.
	Filter bool
	// InPredicate is set for paths found inside a predicate.
	InPredicate bool
	// Steps are the location steps, predicates stripped.
	Steps []Step
}

// String renders the path, e.g. "../../pool/name" or "current()/../vrf".
func (p Path) String() string {
	var b strings.Builder
	switch {
	case p.Absolute:
		b.WriteByte('/')
	case p.Current:
		b.WriteString("current()")
	case p.Filter:
		b.WriteString("(expr)")
	case len(p.Steps) == 0:
		return "."
	}
	for i, s := range p.Steps {
		if i > 0 || p.Current || p.Filter {
			b.WriteByte('/')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// pathBase is where relative paths start while collecting: the context node
// of the expression, or the nodes selected by the steps leading to a
// predicate.
type pathBase struct {
	abs, cur, filter, inPred bool
	steps                    []Step
}

func (b pathBase) path(extra []Step) Path {
	steps := make([]Step, 0, len(b.steps)+len(extra))
	steps = append(append(steps, b.steps...), extra...)
	if len(steps) == 0 {
		steps = nil
	}
	return Path{Absolute: b.abs, Current: b.cur, Filter: b.filter, InPredicate: b.inPred, Steps: steps}
}

// isCurrentCall reports whether x is a call of current().
func isCurrentCall(x exprNode) bool {
	c, ok := x.(*callExpr)
	return ok && c.def.name == "current"
}

// collectPaths appends the location paths of x, with relative paths joined
// onto base, in source order.
func collectPaths(x exprNode, base pathBase, out *[]Path) {
	switch x := x.(type) {
	case *logicExpr:
		collectPaths(x.l, base, out)
		collectPaths(x.r, base, out)
	case *compareExpr:
		collectPaths(x.l, base, out)
		collectPaths(x.r, base, out)
	case *arithExpr:
		collectPaths(x.l, base, out)
		collectPaths(x.r, base, out)
	case *unionExpr:
		collectPaths(x.l, base, out)
		collectPaths(x.r, base, out)
	case *negExpr:
		collectPaths(x.x, base, out)
	case *callExpr:
		switch {
		case x.def.name == "current":
			*out = append(*out, Path{Current: true, InPredicate: base.inPred})
		case len(x.args) == 0 && x.def.ctxArg:
			*out = append(*out, base.path(nil))
		}
		for _, a := range x.args {
			collectPaths(a, base, out)
		}
	case *filterExpr:
		collectPaths(x.primary, base, out)
		pb := pathBase{cur: isCurrentCall(x.primary), inPred: true}
		pb.filter = !pb.cur
		for _, p := range x.preds {
			collectPaths(p.x, pb, out)
		}
	case *pathExpr:
		var origin pathBase
		switch {
		case x.filter != nil && isCurrentCall(x.filter):
			origin = pathBase{cur: true}
		case x.filter != nil:
			collectPaths(x.filter, base, out)
			origin = pathBase{filter: true}
		case x.abs:
			origin = pathBase{abs: true}
		default:
			origin = base
		}
		origin.inPred = base.inPred
		own := make([]Step, len(x.steps))
		for i, s := range x.steps {
			own[i] = s.public()
		}
		full := origin.path(own)
		*out = append(*out, full)
		n := len(origin.steps)
		for i, s := range x.steps {
			if len(s.preds) == 0 {
				continue
			}
			pb := pathBase{abs: full.Absolute, cur: full.Current, filter: full.Filter, inPred: true,
				steps: full.Steps[:n+i+1]}
			for _, p := range s.preds {
				collectPaths(p.x, pb, out)
			}
		}
	}
}
