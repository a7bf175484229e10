// Package xpath implements the XPath 1.0 dialect that YANG uses for must and
// when expressions and leafref paths (RFC 7950 §6.4), evaluated over a
// configuration data tree that the caller exposes through the Node interface.
//
// # Data model
//
// The data tree is mapped onto the XPath 1.0 data model (XPath 1.0 §5) as
// RFC 7950 §6.4.1 describes: containers, list entries, leaves and leaf-list
// entries are element nodes; the root node is a virtual node above the
// top-level data nodes; a leaf's value is its text. Compile accepts namespace
// prefixes in name tests and ignores them (only local names are compared), as
// YANG expressions name the module by a prefix their module declares;
// CompileNS resolves them against the caller's declarations, refuses an
// undeclared one, and matches a prefixed name test only against nodes of
// that namespace (NamespaceNode). There are no
// attribute, namespace, comment or processing-instruction nodes. The node test
// text() treats a leaf as its own text node: child::text() of a leaf selects
// the leaf itself, and on every other axis text() selects the leaves.
//
// # Performance
//
// Compile parses once and resolves static types, so evaluation never re-parses.
// Evaluation pools its scratch state, borrows the slices returned by
// Node.Children instead of copying them, and allocates nothing for the usual
// YANG shapes (existence tests, ../sibling paths, key predicates). A node that
// also implements Indexer lets predicates of the form list[key = value] find
// their entries without scanning the list.
//
// # Limits
//
// Not supported: variable references; the attribute and namespace axes (and
// '@'); the comment() and processing-instruction() node tests; the functions
// id(), lang() and namespace-uri(); prefixed function names. name() returns
// the local name, as data nodes carry no prefix. re-match() translates XML
// Schema regular expressions to Go's RE2 syntax and rejects \p{IsBlock}
// escapes and character class subtraction. deref() and enum-value() need the
// nodes to implement Derefer and EnumNode; derived-from() and
// derived-from-or-self() compare local names unless the nodes implement
// IdentityNode. Expressions are limited to 64 KiB and 100 levels of nesting.
//
// An Expr is immutable after Compile and safe for concurrent use.
package xpath

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// Node is one data node as the validator exposes it (RFC 7950 §6.4.1).
//
// Node values must be comparable with ==, and the same data node must always
// be represented by an equal value (for example, always the same pointer):
// node-sets are de-duplicated by identity. The engine never modifies a slice
// returned by Children.
type Node interface {
	// Name returns the local name, without module prefix.
	Name() string
	// Parent returns the parent node, or an untyped nil at the root (the root
	// is a virtual node above the top-level nodes).
	Parent() Node
	// Children returns the children with that local name in document order;
	// "*" means all children.
	Children(name string) []Node
	// Value returns the canonical lexical value of a leaf or leaf-list entry
	// (e.g. "true", "10", "192.0.2.1"); ok is false for containers, list
	// entries and the root.
	Value() (string, bool)
}

// Indexer may be implemented by a Node to accelerate key predicates. The
// engine calls it for a child step whose first predicate has the form
// name[leaf = v] (or name[v = leaf]) where v does not depend on the context
// node (a literal, an absolute path, or a current()-rooted path evaluating to a
// string or a single node).
type Indexer interface {
	// ChildrenByValue returns, in document order, the children called name
	// that have at least one child called leaf whose string-value equals
	// value. ok=false means no index is available; the engine then scans.
	// The engine does not modify the returned slice.
	ChildrenByValue(name, leaf, value string) (nodes []Node, ok bool)
}

// NamespaceNode may be implemented by a Node that knows the namespace of its
// module, so that a prefixed name test of an expression compiled with
// CompileNS selects only nodes of the namespace its prefix is bound to
// (XPath 1.0 §2.3). A node that does not implement it matches any namespace.
type NamespaceNode interface {
	// Namespace returns the namespace URI of the node's module.
	Namespace() string
}

// Derefer may be implemented by leaf nodes of type leafref or
// instance-identifier so that deref() works (RFC 7950 §10.3.1).
type Derefer interface {
	// Deref returns the nodes the leaf refers to.
	Deref() ([]Node, error)
}

// IdentityNode may be implemented by identityref leaves so that derived-from()
// and derived-from-or-self() follow the real identity hierarchy
// (RFC 7950 §10.4). Without it those functions compare local names only.
type IdentityNode interface {
	// DerivedFrom reports whether the leaf's identity is derived from
	// identity (a possibly prefixed identity name as written in the
	// expression); orSelf also accepts the identity itself.
	DerivedFrom(identity string, orSelf bool) bool
}

// EnumNode may be implemented by enumeration leaves so that enum-value()
// works (RFC 7950 §10.5.1).
type EnumNode interface {
	// EnumValue returns the integer value assigned to the leaf's enum;
	// ok=false if the leaf is not an enumeration.
	EnumValue() (value int64, ok bool)
}

// Kind is the type of an XPath 1.0 value (XPath 1.0 §1). Its String
// method (kind_string.go) returns the XPath name of the type.
type Kind uint8

//go:generate go tool stringer -type=Kind -linecomment

// The four XPath 1.0 object types.
const (
	NodeSetKind Kind = iota // node-set
	StringKind              // string
	NumberKind              // number
	BooleanKind             // boolean
)

// Value is the result of an XPath expression: a node-set (in document order,
// without duplicates), a string, a number or a boolean. The zero Value is an
// empty node-set.
type Value struct {
	kind  Kind
	nodes []Node
	str   string
	num   float64 // the number, or 1/0 for a boolean
}

func nodeSetVal(n []Node) Value { return Value{kind: NodeSetKind, nodes: n} }
func stringVal(s string) Value  { return Value{kind: StringKind, str: s} }
func numberVal(f float64) Value { return Value{kind: NumberKind, num: f} }

func boolVal(b bool) Value {
	if b {
		return Value{kind: BooleanKind, num: 1}
	}
	return Value{kind: BooleanKind}
}

// Kind returns the value's type.
func (v Value) Kind() Kind { return v.kind }

// Nodes returns the node-set in document order; nil for other kinds.
func (v Value) Nodes() []Node { return v.nodes }

// String converts the value with the XPath string() function (XPath 1.0 §4.2).
func (v Value) String() string {
	switch v.kind {
	case NodeSetKind:
		if len(v.nodes) == 0 {
			return ""
		}
		return StringValue(v.nodes[0])
	case StringKind:
		return v.str
	case NumberKind:
		return formatNumber(v.num)
	default:
		if v.num != 0 {
			return "true"
		}
		return "false"
	}
}

// Number converts the value with the XPath number() function (XPath 1.0 §4.4).
func (v Value) Number() float64 {
	switch v.kind {
	case NumberKind, BooleanKind:
		return v.num
	case StringKind:
		return parseNumber(v.str)
	default:
		return parseNumber(v.String())
	}
}

// Bool converts the value with the XPath boolean() function (XPath 1.0 §4.3).
func (v Value) Bool() bool {
	switch v.kind {
	case NodeSetKind:
		return len(v.nodes) > 0
	case StringKind:
		return v.str != ""
	default:
		return v.num != 0 && !math.IsNaN(v.num)
	}
}

// Error is a compile error.
type Error struct {
	// Offset is the byte offset in the expression where the error was found.
	Offset int
	// Msg describes the error.
	Msg string
}

// Error formats the error as "xpath: offset N: message".
func (e *Error) Error() string { return fmt.Sprintf("xpath: offset %d: %s", e.Offset, e.Msg) }

// maxSourceLen bounds the expression length, and so the depth of the syntax
// tree that evaluation recurses over.
const maxSourceLen = 64 << 10

// Expr is a compiled XPath expression.
type Expr struct {
	src   string
	root  exprNode
	paths []Path
}

// Compile parses an expression. Errors are *Error values naming the byte
// offset; unknown functions, wrong argument counts and type errors (such as
// count('a')) are compile errors because XPath 1.0 without variables is
// statically typed.
func Compile(src string) (*Expr, error) { return compile(src, nil) }

// CompileNS is Compile for an expression from outside the schema, such as a
// NETCONF xpath filter (RFC 6241 §8.9), whose prefixes are bound by the
// namespace declarations in scope where it was written: ns returns the
// namespace URI bound to a prefix. A prefix ns does not know is a compile
// error (XPath 1.0 §2.3: "It is an error if the QName has a prefix for which
// there is no namespace declaration in the expression context"); a prefixed
// name test then selects only the nodes of that namespace (NamespaceNode),
// and an unprefixed one any node of that local name.
func CompileNS(src string, ns func(prefix string) (uri string, ok bool)) (*Expr, error) {
	if ns == nil {
		ns = func(string) (string, bool) { return "", false }
	}
	return compile(src, ns)
}

func compile(src string, ns func(string) (string, bool)) (*Expr, error) {
	if len(src) > maxSourceLen {
		return nil, &Error{Offset: maxSourceLen, Msg: fmt.Sprintf("expression longer than %d bytes", maxSourceLen)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, ns: ns}
	root, err := p.parseTop()
	if err != nil {
		return nil, err
	}
	e := &Expr{src: src, root: root}
	collectPaths(root, pathBase{}, &e.paths)
	optimize(root)
	return e, nil
}

// MustCompile is like Compile but panics on error; for expressions fixed in
// the program text.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the source text.
func (e *Expr) String() string { return e.src }

// Kind returns the static type of the expression's result.
func (e *Expr) Kind() Kind { return e.root.kind() }

// Paths returns every location path in the expression, including those inside
// predicates and function arguments, in source order, for static dependency
// analysis. Relative paths inside a step's predicate are joined onto the steps
// leading to that predicate, so every Path starts at the context node, the
// root, current(), or (Filter) the result of another expression. A bare
// current() is reported as a Current path without steps, and a zero-argument
// call that reads the context node (string(), number(), string-length(),
// normalize-space(), name(), local-name()) as a relative path without steps.
func (e *Expr) Paths() []Path {
	out := make([]Path, len(e.paths))
	for i, p := range e.paths {
		p.Steps = append([]Step(nil), p.Steps...)
		out[i] = p
	}
	return out
}

// Eval evaluates the expression. ctx is the context node (RFC 7950 §6.4.1),
// current is what current() returns; a nil current means ctx. A node-set
// result is a fresh slice owned by the caller.
func (e *Expr) Eval(ctx, current Node) (Value, error) {
	ev, err := acquire(ctx, current)
	if err != nil {
		return Value{}, err
	}
	defer ev.release()
	v, err := e.root.eval(ev)
	if err != nil {
		return Value{}, err
	}
	if v.kind == NodeSetKind {
		v.nodes = cloneNodes(v.nodes)
	}
	return v, nil
}

// EvalBool evaluates the expression and converts the result with boolean()
// (XPath 1.0 §4.3), as must and when require (RFC 7950 §7.5.3, §7.21.5).
func (e *Expr) EvalBool(ctx, current Node) (bool, error) {
	ev, err := acquire(ctx, current)
	if err != nil {
		return false, err
	}
	defer ev.release()
	v, err := e.root.eval(ev)
	if err != nil {
		return false, err
	}
	return v.Bool(), nil
}

// EvalNodes evaluates the expression, which must yield a node-set (as a
// leafref path does), and returns the nodes in document order.
func (e *Expr) EvalNodes(ctx, current Node) ([]Node, error) {
	if e.root.kind() != NodeSetKind {
		return nil, fmt.Errorf("xpath: %q yields a %s, not a node-set", e.src, e.root.kind())
	}
	ev, err := acquire(ctx, current)
	if err != nil {
		return nil, err
	}
	defer ev.release()
	v, err := e.root.eval(ev)
	if err != nil {
		return nil, err
	}
	return cloneNodes(v.nodes), nil
}

func cloneNodes(n []Node) []Node {
	if len(n) == 0 {
		return nil
	}
	return append([]Node(nil), n...)
}

// evaluator is the per-evaluation state: the XPath 1.0 §1 context (node,
// position, size) plus current() and scratch storage. It is pooled.
type evaluator struct {
	ctx     Node
	pos     int
	size    int
	current [1]Node
	start   Node
	root    Node
	// arena holds one-node sets (., .., current-node steps) without a heap
	// allocation each. It is used like a stack: predicate evaluation truncates
	// it back once the predicate's value has been converted to a boolean.
	arena []Node
	used  int // high-water mark of arena, cleared on release
	// spent counts the steps of work done (see charge); at checkAt the
	// budget (limit steps, 0 for none) and the context stop are looked
	// at. Without a budget checkAt is never reached.
	spent, limit, checkAt int64
	stop                  context.Context
}

var evalPool = sync.Pool{New: func() any { return &evaluator{arena: make([]Node, 0, 32)} }}

func acquire(ctx, current Node) (*evaluator, error) {
	if ctx == nil {
		return nil, fmt.Errorf("xpath: nil context node")
	}
	if current == nil {
		current = ctx
	}
	ev := evalPool.Get().(*evaluator)
	ev.ctx, ev.pos, ev.size, ev.start = ctx, 1, 1, ctx
	ev.current[0] = current
	ev.spent, ev.limit, ev.checkAt = 0, 0, unlimited
	return ev, nil
}

func (ev *evaluator) release() {
	ev.ctx, ev.start, ev.root, ev.current[0] = nil, nil, nil, nil
	ev.stop = nil
	if cap(ev.arena) > 1024 {
		ev.arena = make([]Node, 0, 32)
	} else {
		clear(ev.arena[:ev.used])
		ev.arena = ev.arena[:0]
	}
	ev.used = 0
	evalPool.Put(ev)
}

// one returns a one-node set backed by the arena.
func (ev *evaluator) one(n Node) []Node {
	i := len(ev.arena)
	ev.arena = append(ev.arena, n)
	ev.used = max(ev.used, len(ev.arena))
	return ev.arena[i : i+1 : i+1]
}

// rootNode finds the root by walking Parent() up from the initial context.
func (ev *evaluator) rootNode() Node {
	if ev.root == nil {
		n := ev.start
		for p := n.Parent(); p != nil; p = p.Parent() {
			n = p
		}
		ev.root = n
	}
	return ev.root
}
