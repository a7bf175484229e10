package xpath

import (
	"fmt"
	"math"
)

// maxNesting bounds parentheses, predicates and function arguments nested
// inside each other.
const maxNesting = 100

// parser is a recursive-descent parser for the XPath 1.0 grammar
// (XPath 1.0 §2, §3), one function per precedence level (§3.4 lists them).
type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	// ns resolves the prefixes of name tests (CompileNS); nil: prefixes
	// are not resolved and match any namespace (Compile).
	ns func(prefix string) (string, bool)
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &Error{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expect(k tokKind, context string) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.errf(t.pos, "expected %s %s, found %s", tokText[k], context, t.describe())
	}
	return t, nil
}

func (p *parser) parseTop() (exprNode, error) {
	x, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf(t.pos, "unexpected %s after expression", t.describe())
	}
	return x, nil
}

// parseExpr parses Expr ::= OrExpr (XPath 1.0 §3.4).
func (p *parser) parseExpr() (exprNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.errf(p.peek().pos, "expression nested more than %d levels deep", maxNesting)
	}
	return p.parseOr()
}

func (p *parser) parseOr() (exprNode, error) {
	l, err := p.parseAnd()
	for err == nil && p.peek().kind == tOr {
		p.next()
		var r exprNode
		if r, err = p.parseAnd(); err == nil {
			l = &logicExpr{l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) parseAnd() (exprNode, error) {
	l, err := p.parseEquality()
	for err == nil && p.peek().kind == tAnd {
		p.next()
		var r exprNode
		if r, err = p.parseEquality(); err == nil {
			l = &logicExpr{and: true, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) parseEquality() (exprNode, error) {
	l, err := p.parseRelational()
	for err == nil && (p.peek().kind == tEq || p.peek().kind == tNe) {
		op := opEq
		if p.next().kind == tNe {
			op = opNe
		}
		var r exprNode
		if r, err = p.parseRelational(); err == nil {
			l = &compareExpr{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) parseRelational() (exprNode, error) {
	l, err := p.parseAdditive()
	for err == nil {
		var op cmpOp
		switch p.peek().kind {
		case tLt:
			op = opLt
		case tLe:
			op = opLe
		case tGt:
			op = opGt
		case tGe:
			op = opGe
		default:
			return l, nil
		}
		p.next()
		var r exprNode
		if r, err = p.parseAdditive(); err == nil {
			l = &compareExpr{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) parseAdditive() (exprNode, error) {
	l, err := p.parseMultiplicative()
	for err == nil && (p.peek().kind == tPlus || p.peek().kind == tMinus) {
		op := p.next().kind
		var r exprNode
		if r, err = p.parseMultiplicative(); err == nil {
			l = &arithExpr{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) parseMultiplicative() (exprNode, error) {
	l, err := p.parseUnary()
	for err == nil && (p.peek().kind == tMul || p.peek().kind == tDiv || p.peek().kind == tMod) {
		op := p.next().kind
		var r exprNode
		if r, err = p.parseUnary(); err == nil {
			l = &arithExpr{op: op, l: l, r: r}
		}
	}
	return l, err
}

// parseUnary parses UnaryExpr ::= '-'* UnionExpr; a run of minus signs
// becomes one node that converts to number and negates if the count is odd.
func (p *parser) parseUnary() (exprNode, error) {
	n := 0
	for p.peek().kind == tMinus {
		p.next()
		n++
	}
	x, err := p.parseUnion()
	if err != nil || n == 0 {
		return x, err
	}
	return &negExpr{x: x, neg: n%2 == 1}, nil
}

func (p *parser) parseUnion() (exprNode, error) {
	l, err := p.parsePathExpr()
	for err == nil && p.peek().kind == tPipe {
		op := p.next()
		var r exprNode
		if r, err = p.parsePathExpr(); err != nil {
			break
		}
		if l.kind() != NodeSetKind || r.kind() != NodeSetKind {
			return nil, p.errf(op.pos, "operands of '|' must be node-sets")
		}
		l = &unionExpr{l: l, r: r}
	}
	return l, err
}

// canStartStep reports whether t can begin a location step.
func canStartStep(t token) bool {
	switch t.kind {
	case tName, tNodeType, tAxis, tDot, tDotDot, tAt:
		return true
	}
	return false
}

var descOrSelf = step{axis: AxisDescendantOrSelf, test: TestNode}

// parsePathExpr parses PathExpr (XPath 1.0 §3.3): a location path, or a
// filter expression optionally followed by '/' or '//' and a relative path.
func (p *parser) parsePathExpr() (exprNode, error) {
	t := p.peek()
	switch t.kind {
	case tSlash:
		p.next()
		if !canStartStep(p.peek()) {
			return &pathExpr{abs: true}, nil
		}
		steps, err := p.parseRelative(nil)
		return &pathExpr{abs: true, steps: steps}, err
	case tSlashSlash:
		p.next()
		steps, err := p.parseRelative([]step{descOrSelf})
		return &pathExpr{abs: true, steps: steps}, err
	case tLParen, tLiteral, tNumber, tFunc:
		f, err := p.parseFilter()
		if err != nil {
			return nil, err
		}
		k := p.peek().kind
		if k != tSlash && k != tSlashSlash {
			return f, nil
		}
		if f.kind() != NodeSetKind {
			return nil, p.errf(p.peek().pos, "location steps applied to a %s", f.kind())
		}
		p.next()
		var first []step
		if k == tSlashSlash {
			first = []step{descOrSelf}
		}
		steps, err := p.parseRelative(first)
		return &pathExpr{filter: f, steps: steps}, err
	}
	if canStartStep(t) {
		steps, err := p.parseRelative(nil)
		return &pathExpr{steps: steps}, err
	}
	return nil, p.errf(t.pos, "expected expression, found %s", t.describe())
}

// parseRelative parses RelativeLocationPath, appending to steps.
func (p *parser) parseRelative(steps []step) ([]step, error) {
	for {
		s, err := p.parseStep()
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
		switch p.peek().kind {
		case tSlash:
			p.next()
		case tSlashSlash:
			p.next()
			steps = append(steps, descOrSelf)
		default:
			return steps, nil
		}
	}
}

// axisByName maps full axis names to axes; read-only.
var axisByName = func() map[string]Axis {
	m := map[string]Axis{}
	for a, n := range axisNames {
		m[n] = Axis(a)
	}
	return m
}()

// parseStep parses Step (XPath 1.0 §2.1) including abbreviations (§2.5).
func (p *parser) parseStep() (step, error) {
	t := p.next()
	s := step{axis: AxisChild}
	switch t.kind {
	case tDot, tDotDot:
		s = step{axis: AxisSelf, test: TestNode}
		if t.kind == tDotDot {
			s.axis = AxisParent
		}
		if n := p.peek(); n.kind == tLBrack {
			return s, p.errf(n.pos, "a predicate cannot follow %s", t.describe())
		}
		return s, nil
	case tAt:
		return s, p.errf(t.pos, "attributes are not supported (YANG data has none)")
	case tAxis:
		a, ok := axisByName[t.text]
		if !ok {
			if t.text == "attribute" || t.text == "namespace" {
				return s, p.errf(t.pos, "the %s axis is not supported", t.text)
			}
			return s, p.errf(t.pos, "unknown axis %q", t.text)
		}
		s.axis = a
		p.next() // '::', guaranteed by the lexer
		t = p.next()
	}
	switch t.kind {
	case tName:
		s.test, s.prefix, s.name = TestName, t.prefix, t.text
		if t.prefix != "" && p.ns != nil {
			uri, ok := p.ns(t.prefix)
			if !ok {
				return s, p.errf(t.pos, "prefix %q is not declared", t.prefix)
			}
			s.ns = uri
		}
	case tNodeType:
		if t.text != "node" && t.text != "text" {
			return s, p.errf(t.pos, "node test %s() is not supported (YANG data has no such nodes)", t.text)
		}
		s.test = TestNode
		if t.text == "text" {
			s.test = TestText
		}
		p.next() // '(', guaranteed by the lexer
		if _, err := p.expect(tRParen, "after "+t.text+"("); err != nil {
			return s, err
		}
	default:
		return s, p.errf(t.pos, "expected node test, found %s", t.describe())
	}
	for p.peek().kind == tLBrack {
		pr, err := p.parsePredicate()
		if err != nil {
			return s, err
		}
		s.preds = append(s.preds, pr)
	}
	return s, nil
}

// parsePredicate parses Predicate ::= '[' Expr ']' (XPath 1.0 §2.4).
func (p *parser) parsePredicate() (predicate, error) {
	p.next()
	x, err := p.parseExpr()
	if err != nil {
		return predicate{}, err
	}
	if _, err := p.expect(tRBrack, "to close the predicate"); err != nil {
		return predicate{}, err
	}
	pr := predicate{x: x}
	if lit, ok := x.(*literalExpr); ok && lit.v.kind == NumberKind {
		// A constant position: [1], [2] ...
		f := lit.v.num
		pr.konst = -1
		if f >= 1 && f == math.Trunc(f) && f <= math.MaxInt32 {
			pr.konst = int(f)
		}
	}
	return pr, nil
}

// parseFilter parses FilterExpr ::= PrimaryExpr Predicate* (XPath 1.0 §3.3).
func (p *parser) parseFilter() (exprNode, error) {
	x, err := p.parsePrimary()
	if err != nil || p.peek().kind != tLBrack {
		return x, err
	}
	if x.kind() != NodeSetKind {
		return nil, p.errf(p.peek().pos, "predicate applied to a %s", x.kind())
	}
	f := &filterExpr{primary: x}
	for p.peek().kind == tLBrack {
		pr, err := p.parsePredicate()
		if err != nil {
			return nil, err
		}
		f.preds = append(f.preds, pr)
	}
	return f, nil
}

// parsePrimary parses PrimaryExpr (XPath 1.0 §3.1): '(' Expr ')', Literal,
// Number or FunctionCall (variables are rejected by the lexer).
func (p *parser) parsePrimary() (exprNode, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(tRParen, "to close '('")
		return x, err
	case tLiteral:
		return &literalExpr{v: stringVal(t.text)}, nil
	case tNumber:
		return &literalExpr{v: numberVal(t.num)}, nil
	}
	return p.parseCall(t)
}

// parseCall parses FunctionCall (XPath 1.0 §3.2) and checks the function's
// existence, argument count and node-set arguments.
func (p *parser) parseCall(name token) (exprNode, error) {
	p.next() // '(', guaranteed by the lexer
	var args []exprNode
	if p.peek().kind != tRParen {
		for {
			a, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if _, err := p.expect(tRParen, "to close the argument list"); err != nil {
		return nil, err
	}
	full := name.text
	if name.prefix != "" {
		full = name.prefix + ":" + name.text
	}
	def := funcs[full]
	if def == nil {
		return nil, p.errf(name.pos, "unknown function %s()", full)
	}
	if len(args) < def.min || (def.max >= 0 && len(args) > def.max) {
		return nil, p.errf(name.pos, "%s() takes %s, got %d", full, def.arity(), len(args))
	}
	for i, a := range args {
		if def.nodeSetArgs&(1<<i) != 0 && a.kind() != NodeSetKind {
			return nil, p.errf(name.pos, "argument %d of %s() must be a node-set, not a %s", i+1, full, a.kind())
		}
	}
	c := &callExpr{def: def, args: args, pos: name.pos}
	if def.prepare != nil {
		if err := def.prepare(c); err != nil {
			return nil, p.errf(name.pos, "%s", err.Error())
		}
	}
	return c, nil
}
