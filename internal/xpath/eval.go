package xpath

import (
	"math"
	"strconv"
	"strings"
)

// exprNode is a node of the compiled syntax tree. kind is the static result
// type: XPath 1.0 without variables is statically typed, so type errors are
// reported by Compile and eval never has to check them.
type exprNode interface {
	eval(ev *evaluator) (Value, error)
	kind() Kind
}

type literalExpr struct{ v Value }

func (x *literalExpr) eval(*evaluator) (Value, error) { return x.v, nil }
func (x *literalExpr) kind() Kind                     { return x.v.kind }

// evalBool evaluates x and converts it with boolean() (XPath 1.0 §4.3). Node
// sets built on the arena while doing so are released.
func (ev *evaluator) evalBool(x exprNode) (bool, error) {
	mark := len(ev.arena)
	v, err := x.eval(ev)
	b := v.Bool()
	ev.arena = ev.arena[:mark]
	return b, err
}

// evalString evaluates x and converts it with string() (XPath 1.0 §4.2).
func (ev *evaluator) evalString(x exprNode) (string, error) {
	mark := len(ev.arena)
	v, err := x.eval(ev)
	s := ev.str(v)
	ev.arena = ev.arena[:mark]
	return s, err
}

// evalNumber evaluates x and converts it with number() (XPath 1.0 §4.4).
func (ev *evaluator) evalNumber(x exprNode) (float64, error) {
	mark := len(ev.arena)
	v, err := x.eval(ev)
	var f float64
	if v.kind == NodeSetKind {
		f = parseNumber(ev.str(v))
	} else {
		f = v.Number()
	}
	ev.arena = ev.arena[:mark]
	return f, err
}

// str is v.String() with the string-value of a node charged to the budget.
func (ev *evaluator) str(v Value) string {
	if v.kind == NodeSetKind {
		if len(v.nodes) == 0 {
			return ""
		}
		return ev.stringValue(v.nodes[0])
	}
	return v.String()
}

// stringValue is StringValue charging one step per node visited.
func (ev *evaluator) stringValue(n Node) string {
	if v, ok := n.Value(); ok {
		ev.charge(1)
		return v
	}
	kids := n.Children("*")
	ev.charge(1 + len(kids))
	if len(kids) == 0 {
		return ""
	}
	if len(kids) == 1 {
		return ev.stringValue(kids[0])
	}
	var b strings.Builder
	ev.appendText(&b, kids)
	return b.String()
}

func (ev *evaluator) appendText(b *strings.Builder, nodes []Node) {
	for _, n := range nodes {
		if v, ok := n.Value(); ok {
			b.WriteString(v)
		} else {
			kids := n.Children("*")
			ev.charge(1 + len(kids))
			ev.appendText(b, kids)
		}
	}
}

// logicExpr is 'or' / 'and' with short-circuit evaluation (XPath 1.0 §3.4).
type logicExpr struct {
	and  bool
	l, r exprNode
}

func (x *logicExpr) kind() Kind { return BooleanKind }

func (x *logicExpr) eval(ev *evaluator) (Value, error) {
	b, err := ev.evalBool(x.l)
	if err != nil || b != x.and {
		return boolVal(b), err
	}
	b, err = ev.evalBool(x.r)
	return boolVal(b), err
}

// cmpOp is a comparison operator (XPath 1.0 §3.4).
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

// swap returns op' such that a op b == b op' a.
func (op cmpOp) swap() cmpOp {
	switch op {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return op
}

type compareExpr struct {
	op   cmpOp
	l, r exprNode
}

func (x *compareExpr) kind() Kind { return BooleanKind }

func (x *compareExpr) eval(ev *evaluator) (Value, error) {
	mark := len(ev.arena)
	l, err := x.l.eval(ev)
	if err != nil {
		return Value{}, err
	}
	r, err := x.r.eval(ev)
	if err != nil {
		return Value{}, err
	}
	b := ev.compareValues(x.op, l, r)
	ev.arena = ev.arena[:mark]
	return boolVal(b), nil
}

// compareValues implements the comparison rules of XPath 1.0 §3.4. Every
// string-value it reads is charged to the budget: two node-sets compare
// pairwise, which is quadratic.
func (ev *evaluator) compareValues(op cmpOp, a, b Value) bool {
	switch {
	case a.kind == NodeSetKind && b.kind == NodeSetKind:
		// True iff some pair of nodes' string-values compares true; for
		// relational operators both are converted to numbers.
		for _, x := range a.nodes {
			sx := ev.stringValue(x)
			if op <= opNe {
				for _, y := range b.nodes {
					if (sx == ev.stringValue(y)) == (op == opEq) {
						return true
					}
				}
				continue
			}
			fx := parseNumber(sx)
			for _, y := range b.nodes {
				if compareNumbers(op, fx, parseNumber(ev.stringValue(y))) {
					return true
				}
			}
		}
		return false
	case a.kind == NodeSetKind:
		return ev.compareNodeSet(op, a.nodes, b)
	case b.kind == NodeSetKind:
		return ev.compareNodeSet(op.swap(), b.nodes, a)
	}
	return compareScalars(op, a, b)
}

// compareNodeSet compares a node-set with a non-node-set value (XPath 1.0
// §3.4): existentially against a number or string, via boolean() against a
// boolean.
func (ev *evaluator) compareNodeSet(op cmpOp, ns []Node, v Value) bool {
	switch v.kind {
	case BooleanKind:
		return compareScalars(op, boolVal(len(ns) > 0), v)
	case StringKind:
		if op <= opNe {
			for _, n := range ns {
				if (ev.stringValue(n) == v.str) == (op == opEq) {
					return true
				}
			}
			return false
		}
		v = numberVal(parseNumber(v.str))
	}
	for _, n := range ns {
		if compareNumbers(op, parseNumber(ev.stringValue(n)), v.num) {
			return true
		}
	}
	return false
}

// compareScalars compares two non-node-set values (XPath 1.0 §3.4): for = and
// != as booleans if either is a boolean, else as numbers if either is a
// number, else as strings; for relational operators always as numbers.
func compareScalars(op cmpOp, a, b Value) bool {
	if op <= opNe {
		var eq bool
		switch {
		case a.kind == BooleanKind || b.kind == BooleanKind:
			eq = a.Bool() == b.Bool()
		case a.kind == NumberKind || b.kind == NumberKind:
			return compareNumbers(op, a.Number(), b.Number())
		default:
			eq = a.String() == b.String()
		}
		return eq == (op == opEq)
	}
	return compareNumbers(op, a.Number(), b.Number())
}

// compareNumbers compares per IEEE 754, so NaN compares false except with !=.
func compareNumbers(op cmpOp, a, b float64) bool {
	switch op {
	case opEq:
		return a == b
	case opNe:
		return a != b
	case opLt:
		return a < b
	case opLe:
		return a <= b
	case opGt:
		return a > b
	}
	return a >= b
}

// arithExpr is +, -, *, div or mod on numbers (XPath 1.0 §3.5).
type arithExpr struct {
	op   tokKind
	l, r exprNode
}

func (x *arithExpr) kind() Kind { return NumberKind }

func (x *arithExpr) eval(ev *evaluator) (Value, error) {
	a, err := ev.evalNumber(x.l)
	if err != nil {
		return Value{}, err
	}
	b, err := ev.evalNumber(x.r)
	if err != nil {
		return Value{}, err
	}
	switch x.op {
	case tPlus:
		return numberVal(a + b), nil
	case tMinus:
		return numberVal(a - b), nil
	case tMul:
		return numberVal(a * b), nil
	case tDiv:
		return numberVal(a / b), nil
	}
	// mod truncates like Java's % and C's fmod (XPath 1.0 §3.5).
	return numberVal(math.Mod(a, b)), nil
}

// negExpr is unary minus (XPath 1.0 §3.5); neg is false for an even run of
// minus signs, which still converts to number.
type negExpr struct {
	x   exprNode
	neg bool
}

func (x *negExpr) kind() Kind { return NumberKind }

func (x *negExpr) eval(ev *evaluator) (Value, error) {
	f, err := ev.evalNumber(x.x)
	if x.neg {
		f = -f
	}
	return numberVal(f), err
}

// unionExpr is '|' (XPath 1.0 §3.3).
type unionExpr struct{ l, r exprNode }

func (x *unionExpr) kind() Kind { return NodeSetKind }

func (x *unionExpr) eval(ev *evaluator) (Value, error) {
	l, err := x.l.eval(ev)
	if err != nil {
		return Value{}, err
	}
	r, err := x.r.eval(ev)
	if err != nil {
		return Value{}, err
	}
	switch {
	case len(l.nodes) == 0:
		return r, nil
	case len(r.nodes) == 0:
		return l, nil
	}
	out := make([]Node, 0, len(l.nodes)+len(r.nodes))
	out = append(append(out, l.nodes...), r.nodes...)
	return nodeSetVal(ev.sortDocOrder(out)), nil
}

// StringValue returns the XPath string-value of a node (XPath 1.0 §5): a
// leaf's value, or for any other node the concatenation of the values of the
// leaves below it in document order.
func StringValue(n Node) string {
	if v, ok := n.Value(); ok {
		return v
	}
	kids := n.Children("*")
	if len(kids) == 0 {
		return ""
	}
	if len(kids) == 1 {
		return StringValue(kids[0])
	}
	var b strings.Builder
	appendText(&b, kids)
	return b.String()
}

func appendText(b *strings.Builder, nodes []Node) {
	for _, n := range nodes {
		if v, ok := n.Value(); ok {
			b.WriteString(v)
		} else {
			appendText(b, n.Children("*"))
		}
	}
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseNumber implements number() of a string (XPath 1.0 §4.4): optional
// whitespace, an optional minus, a Number (digits with an optional decimal
// point, no exponent), optional whitespace; anything else is NaN.
func parseNumber(s string) float64 {
	i, j := 0, len(s)
	for i < j && isXMLSpace(s[i]) {
		i++
	}
	for j > i && isXMLSpace(s[j-1]) {
		j--
	}
	s = s[i:j]
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	digits, dot := 0, false
	for k := 0; k < len(s); k++ {
		switch c := s[k]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return math.NaN()
		}
	}
	if digits == 0 {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return math.NaN()
	}
	if neg {
		f = -f
	}
	return f
}

// formatNumber implements string() of a number (XPath 1.0 §4.2): NaN,
// Infinity, -Infinity, integers without a decimal point, otherwise the
// shortest decimal form without exponent; negative zero is "0".
func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
