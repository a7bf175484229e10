package xpath

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// funcDef describes a function of the XPath 1.0 core library (XPath 1.0 §4)
// or of the YANG 1.1 library (RFC 7950 §10).
type funcDef struct {
	name     string
	min, max int  // argument count; max < 0 means any number
	ret      Kind // static result type
	// nodeSetArgs has bit i set when argument i must be a node-set.
	nodeSetArgs uint8
	// ctxArg marks functions whose zero-argument form reads the context node.
	ctxArg  bool
	call    func(ev *evaluator, c *callExpr) (Value, error)
	prepare func(c *callExpr) error // compile-time check or precomputation
}

func (d *funcDef) arity() string {
	switch {
	case d.max < 0:
		return fmt.Sprintf("at least %d arguments", d.min)
	case d.min == d.max && d.min == 1:
		return "1 argument"
	case d.min == d.max:
		return fmt.Sprintf("%d arguments", d.min)
	}
	return fmt.Sprintf("%d to %d arguments", d.min, d.max)
}

// callExpr is a function call (XPath 1.0 §3.2).
type callExpr struct {
	def  *funcDef
	args []exprNode
	pos  int
	re   *regexCache // re-match() only
}

func (c *callExpr) kind() Kind                        { return c.def.ret }
func (c *callExpr) eval(ev *evaluator) (Value, error) { return c.def.call(ev, c) }

// funcs is the function library, by name; built once, read-only after.
var funcs = buildFuncs()

func buildFuncs() map[string]*funcDef {
	m := map[string]*funcDef{}
	for _, d := range []*funcDef{
		// Node-set functions, XPath 1.0 §4.1.
		{name: "last", ret: NumberKind, call: fnLast},
		{name: "position", ret: NumberKind, call: fnPosition},
		{name: "count", min: 1, max: 1, ret: NumberKind, nodeSetArgs: 1, call: fnCount},
		{name: "local-name", max: 1, ret: StringKind, nodeSetArgs: 1, ctxArg: true, call: fnLocalName},
		{name: "name", max: 1, ret: StringKind, nodeSetArgs: 1, ctxArg: true, call: fnLocalName},
		// String functions, XPath 1.0 §4.2.
		{name: "string", max: 1, ret: StringKind, ctxArg: true, call: fnString},
		{name: "concat", min: 2, max: -1, ret: StringKind, call: fnConcat},
		{name: "starts-with", min: 2, max: 2, ret: BooleanKind, call: fnStartsWith},
		{name: "contains", min: 2, max: 2, ret: BooleanKind, call: fnContains},
		{name: "substring-before", min: 2, max: 2, ret: StringKind, call: fnSubstringBefore},
		{name: "substring-after", min: 2, max: 2, ret: StringKind, call: fnSubstringAfter},
		{name: "substring", min: 2, max: 3, ret: StringKind, call: fnSubstring},
		{name: "string-length", max: 1, ret: NumberKind, ctxArg: true, call: fnStringLength},
		{name: "normalize-space", max: 1, ret: StringKind, ctxArg: true, call: fnNormalizeSpace},
		{name: "translate", min: 3, max: 3, ret: StringKind, call: fnTranslate},
		// Boolean functions, XPath 1.0 §4.3 (lang() is omitted: no xml:lang).
		{name: "boolean", min: 1, max: 1, ret: BooleanKind, call: fnBoolean},
		{name: "not", min: 1, max: 1, ret: BooleanKind, call: fnNot},
		{name: "true", ret: BooleanKind, call: fnTrue},
		{name: "false", ret: BooleanKind, call: fnFalse},
		// Number functions, XPath 1.0 §4.4.
		{name: "number", max: 1, ret: NumberKind, ctxArg: true, call: fnNumber},
		{name: "sum", min: 1, max: 1, ret: NumberKind, nodeSetArgs: 1, call: fnSum},
		{name: "floor", min: 1, max: 1, ret: NumberKind, call: fnFloor},
		{name: "ceiling", min: 1, max: 1, ret: NumberKind, call: fnCeiling},
		{name: "round", min: 1, max: 1, ret: NumberKind, call: fnRound},
		// YANG functions, RFC 7950 §10.
		{name: "current", ret: NodeSetKind, call: fnCurrent},
		{name: "re-match", min: 2, max: 2, ret: BooleanKind, call: fnReMatch, prepare: prepareReMatch},
		{name: "deref", min: 1, max: 1, ret: NodeSetKind, nodeSetArgs: 1, call: fnDeref},
		{name: "derived-from", min: 2, max: 2, ret: BooleanKind, nodeSetArgs: 1, call: fnDerivedFrom},
		{name: "derived-from-or-self", min: 2, max: 2, ret: BooleanKind, nodeSetArgs: 1, call: fnDerivedFrom},
		{name: "enum-value", min: 1, max: 1, ret: NumberKind, nodeSetArgs: 1, call: fnEnumValue},
		{name: "bit-is-set", min: 2, max: 2, ret: BooleanKind, nodeSetArgs: 1, call: fnBitIsSet},
	} {
		m[d.name] = d
	}
	return m
}

// argString returns argument i converted with string(), or the
// string-value of the context node when the call has no arguments.
func (ev *evaluator) argString(c *callExpr, i int) (string, error) {
	if i >= len(c.args) {
		return ev.stringValue(ev.ctx), nil
	}
	return ev.evalString(c.args[i])
}

// argNodes evaluates node-set argument i; a missing optional argument means
// the context node (XPath 1.0 §4.1).
func (ev *evaluator) argNodes(c *callExpr, i int) ([]Node, error) {
	if i >= len(c.args) {
		return ev.one(ev.ctx), nil
	}
	v, err := c.args[i].eval(ev)
	return v.nodes, err
}

func fnLast(ev *evaluator, _ *callExpr) (Value, error) { return numberVal(float64(ev.size)), nil }

func fnPosition(ev *evaluator, _ *callExpr) (Value, error) {
	return numberVal(float64(ev.pos)), nil
}

func fnCount(ev *evaluator, c *callExpr) (Value, error) {
	mark := len(ev.arena)
	ns, err := ev.argNodes(c, 0)
	ev.arena = ev.arena[:mark]
	return numberVal(float64(len(ns))), err
}

// fnLocalName serves local-name() and name(): data nodes carry no prefix, so
// both return the local name of the first node; "" for the root or an empty
// set.
func fnLocalName(ev *evaluator, c *callExpr) (Value, error) {
	mark := len(ev.arena)
	ns, err := ev.argNodes(c, 0)
	ev.arena = ev.arena[:mark]
	if err != nil || len(ns) == 0 || ns[0].Parent() == nil {
		return stringVal(""), err
	}
	return stringVal(ns[0].Name()), nil
}

func fnString(ev *evaluator, c *callExpr) (Value, error) {
	s, err := ev.argString(c, 0)
	return stringVal(s), err
}

func fnConcat(ev *evaluator, c *callExpr) (Value, error) {
	var b strings.Builder
	for _, a := range c.args {
		s, err := ev.evalString(a)
		if err != nil {
			return Value{}, err
		}
		b.WriteString(s)
		ev.charge(len(s) / 64) // the copy, against a many-argument concat
	}
	return stringVal(b.String()), nil
}

// twoStrings evaluates the first two arguments as strings.
func (ev *evaluator) twoStrings(c *callExpr) (string, string, error) {
	a, err := ev.evalString(c.args[0])
	if err != nil {
		return "", "", err
	}
	b, err := ev.evalString(c.args[1])
	return a, b, err
}

func fnStartsWith(ev *evaluator, c *callExpr) (Value, error) {
	a, b, err := ev.twoStrings(c)
	return boolVal(strings.HasPrefix(a, b)), err
}

func fnContains(ev *evaluator, c *callExpr) (Value, error) {
	a, b, err := ev.twoStrings(c)
	return boolVal(strings.Contains(a, b)), err
}

func fnSubstringBefore(ev *evaluator, c *callExpr) (Value, error) {
	a, b, err := ev.twoStrings(c)
	before, _, found := strings.Cut(a, b)
	if !found {
		before = ""
	}
	return stringVal(before), err
}

func fnSubstringAfter(ev *evaluator, c *callExpr) (Value, error) {
	a, b, err := ev.twoStrings(c)
	_, after, _ := strings.Cut(a, b)
	return stringVal(after), err
}

// fnSubstring counts characters from 1 and keeps those at positions p with
// round(start) <= p < round(start) + round(length) (XPath 1.0 §4.2), which
// handles NaN and infinities through IEEE comparisons.
func fnSubstring(ev *evaluator, c *callExpr) (Value, error) {
	s, err := ev.evalString(c.args[0])
	if err != nil {
		return Value{}, err
	}
	start, err := ev.evalNumber(c.args[1])
	if err != nil {
		return Value{}, err
	}
	first := xround(start)
	end := math.Inf(1)
	if len(c.args) == 3 {
		n, err := ev.evalNumber(c.args[2])
		if err != nil {
			return Value{}, err
		}
		end = first + xround(n)
	}
	from, to := -1, len(s)
	p := 1.0
	for i := range s { // i steps over runes
		in := p >= first && p < end
		if in && from < 0 {
			from = i
		} else if !in && from >= 0 {
			to = i
			break
		}
		p++
	}
	if from < 0 {
		return stringVal(""), nil
	}
	return stringVal(s[from:to]), nil
}

func fnStringLength(ev *evaluator, c *callExpr) (Value, error) {
	s, err := ev.argString(c, 0)
	return numberVal(float64(utf8.RuneCountInString(s))), err
}

// fnNormalizeSpace strips leading and trailing whitespace and collapses
// internal runs of space, tab, CR and LF to one space (XPath 1.0 §4.2).
func fnNormalizeSpace(ev *evaluator, c *callExpr) (Value, error) {
	s, err := ev.argString(c, 0)
	if err != nil {
		return Value{}, err
	}
	return stringVal(strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}), " ")), nil
}

// fnTranslate maps each character of the first argument found in the second
// to the character at the same position of the third, dropping it if the
// third is shorter; the first occurrence in the second wins (XPath 1.0 §4.2).
func fnTranslate(ev *evaluator, c *callExpr) (Value, error) {
	s, from, err := ev.twoStrings(c)
	if err != nil {
		return Value{}, err
	}
	to, err := ev.evalString(c.args[2])
	if err != nil {
		return Value{}, err
	}
	fromR, toR := []rune(from), []rune(to)
	// A map keeps it linear when both strings are long (string(/) twice).
	index := make(map[rune]int, len(fromR))
	for i := len(fromR) - 1; i >= 0; i-- {
		index[fromR[i]] = i
	}
	ev.charge((len(s) + len(fromR)) / 64)
	var b strings.Builder
	for _, r := range s {
		i, found := index[r]
		switch {
		case !found:
			b.WriteRune(r)
		case i < len(toR):
			b.WriteRune(toR[i])
		}
	}
	return stringVal(b.String()), nil
}

func fnBoolean(ev *evaluator, c *callExpr) (Value, error) {
	b, err := ev.evalBool(c.args[0])
	return boolVal(b), err
}

func fnNot(ev *evaluator, c *callExpr) (Value, error) {
	b, err := ev.evalBool(c.args[0])
	return boolVal(!b), err
}

func fnTrue(*evaluator, *callExpr) (Value, error)  { return boolVal(true), nil }
func fnFalse(*evaluator, *callExpr) (Value, error) { return boolVal(false), nil }

func fnNumber(ev *evaluator, c *callExpr) (Value, error) {
	if len(c.args) == 0 {
		return numberVal(parseNumber(ev.stringValue(ev.ctx))), nil
	}
	f, err := ev.evalNumber(c.args[0])
	return numberVal(f), err
}

func fnSum(ev *evaluator, c *callExpr) (Value, error) {
	mark := len(ev.arena)
	ns, err := ev.argNodes(c, 0)
	sum := 0.0
	for _, n := range ns {
		sum += parseNumber(ev.stringValue(n))
	}
	ev.arena = ev.arena[:mark]
	return numberVal(sum), err
}

func fnFloor(ev *evaluator, c *callExpr) (Value, error) {
	f, err := ev.evalNumber(c.args[0])
	return numberVal(math.Floor(f)), err
}

func fnCeiling(ev *evaluator, c *callExpr) (Value, error) {
	f, err := ev.evalNumber(c.args[0])
	return numberVal(math.Ceil(f)), err
}

func fnRound(ev *evaluator, c *callExpr) (Value, error) {
	f, err := ev.evalNumber(c.args[0])
	return numberVal(xround(f)), err
}

// xround is XPath round(): the closest integer, halves rounded towards
// positive infinity, NaN and infinities unchanged, and -0 for values in
// [-0.5, -0] (XPath 1.0 §4.4).
func xround(f float64) float64 {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return f
	case f < 0 && f >= -0.5:
		return math.Copysign(0, -1)
	}
	r := math.Floor(f)
	if f-r >= 0.5 { // exact: not f+0.5, which rounds 0.49999999999999994 up
		r++
	}
	return r
}

// fnCurrent returns the node RFC 7950 §10.1.1 calls the current node.
func fnCurrent(ev *evaluator, _ *callExpr) (Value, error) {
	return nodeSetVal(ev.current[:]), nil
}

// fnDeref follows the leafref or instance-identifier of the first node of
// its argument (RFC 7950 §10.3.1); it needs the node to implement Derefer.
func fnDeref(ev *evaluator, c *callExpr) (Value, error) {
	v, err := c.args[0].eval(ev)
	if err != nil || len(v.nodes) == 0 {
		return Value{}, err
	}
	d, ok := v.nodes[0].(Derefer)
	if !ok {
		return Value{}, fmt.Errorf("xpath: deref() is not supported: node %q does not implement xpath.Derefer", v.nodes[0].Name())
	}
	ns, err := d.Deref()
	if err != nil {
		return Value{}, fmt.Errorf("xpath: deref(): %w", err)
	}
	return nodeSetVal(ev.sortDocOrder(cloneNodes(ns))), nil
}

// fnDerivedFrom serves derived-from() and derived-from-or-self()
// (RFC 7950 §10.4.1, §10.4.2): true if some node of the first argument is an
// identityref whose identity derives from the second argument. Nodes that
// implement IdentityNode decide; for others only the local names of the
// value and of the identity are compared, without the identity hierarchy.
func fnDerivedFrom(ev *evaluator, c *callExpr) (Value, error) {
	mark := len(ev.arena)
	defer func() { ev.arena = ev.arena[:mark] }()
	v, err := c.args[0].eval(ev)
	if err != nil {
		return Value{}, err
	}
	id, err := ev.evalString(c.args[1])
	if err != nil {
		return Value{}, err
	}
	orSelf := c.def.name == "derived-from-or-self"
	for _, n := range v.nodes {
		if in, ok := n.(IdentityNode); ok {
			if in.DerivedFrom(id, orSelf) {
				return boolVal(true), nil
			}
			continue
		}
		if val, ok := n.Value(); ok && localPart(strings.TrimSpace(val)) == localPart(id) {
			return boolVal(true), nil
		}
	}
	return boolVal(false), nil
}

func localPart(qname string) string {
	if i := strings.LastIndexByte(qname, ':'); i >= 0 {
		return qname[i+1:]
	}
	return qname
}

// fnEnumValue returns the integer value of the first node's enum
// (RFC 7950 §10.5.1): NaN for an empty set or a non-enumeration; nodes must
// implement EnumNode since the data tree carries only the enum's name.
func fnEnumValue(ev *evaluator, c *callExpr) (Value, error) {
	mark := len(ev.arena)
	v, err := c.args[0].eval(ev)
	ev.arena = ev.arena[:mark]
	if err != nil || len(v.nodes) == 0 {
		return numberVal(math.NaN()), err
	}
	en, ok := v.nodes[0].(EnumNode)
	if !ok {
		return Value{}, fmt.Errorf("xpath: enum-value() is not supported: node %q does not implement xpath.EnumNode", v.nodes[0].Name())
	}
	if i, ok := en.EnumValue(); ok {
		return numberVal(float64(i)), nil
	}
	return numberVal(math.NaN()), nil
}

// fnBitIsSet reports whether the first node's bits value, a space-separated
// list of bit names, contains the named bit (RFC 7950 §10.6.1).
func fnBitIsSet(ev *evaluator, c *callExpr) (Value, error) {
	mark := len(ev.arena)
	defer func() { ev.arena = ev.arena[:mark] }()
	v, err := c.args[0].eval(ev)
	if err != nil {
		return Value{}, err
	}
	bit, err := ev.evalString(c.args[1])
	if err != nil || len(v.nodes) == 0 {
		return boolVal(false), err
	}
	val, ok := v.nodes[0].Value()
	if !ok {
		return boolVal(false), nil
	}
	for _, f := range strings.Fields(val) {
		if f == bit {
			return boolVal(true), nil
		}
	}
	return boolVal(false), nil
}
