package validate

import (
	"context"
	"errors"
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

// SelectOptions say over which tree, and within which bounds, Select
// evaluates a client's expression.
type SelectOptions struct {
	// Secrets makes the leaves marked secgw-types:secret part of the tree.
	// Without it they do not exist for the expression, in predicates and
	// function arguments too: a reader who may not see a secret cannot
	// test it either.
	Secrets bool
	// Read, when set, is the reader's access control (RFC 8341 §3.2.4:
	// "the selection criteria is applied to the subset of nodes that the
	// user is authorized to read"): a node it denies does not exist for
	// the expression, with its descendants, in predicates and function
	// arguments too, so that a filter cannot learn whether it exists or
	// what it holds. It decides secret leaves as well: set Secrets with
	// it.
	Read ReadFunc
	// MaxSteps bounds the work of the evaluation (see xpath.EvalWithin);
	// 0 means no bound.
	MaxSteps int64
	// Namespaces resolves the prefixes of the expression: the namespace
	// declarations in scope where it was written (RFC 6241 §8.9). nil:
	// prefixes are ignored.
	Namespaces func(prefix string) (uri string, ok bool)
}

// ReadFunc is a read access check: whether the node at path (a list
// entry's with its key), of the module of namespace ns, may be read;
// secret marks a leaf carrying secgw-types:secret.
type ReadFunc func(ns string, path schema.DataPath, secret bool) bool

// ErrLimit is the cause of a Select that its step budget or its context
// stopped; errors.As finds the *xpath.LimitError with the details.
var ErrLimit = errors.New("validate: the expression needs more work than allowed")

// Select evaluates an XPath 1.0 expression (a NETCONF xpath filter, RFC
// 6241 §8.9) on tree d from its root, and returns the selected nodes.
// With opt.Namespaces, a prefix it does not know is an error and a
// prefixed name selects only nodes of its namespace; without, prefixes are
// ignored. d is only read, and may be shared with
// other readers. The evaluation stops when ctx ends or opt.MaxSteps is
// spent, with an error that wraps ErrLimit and the *xpath.LimitError.
func (v *Validator) Select(ctx context.Context, d *generated.Device, expr string, opt SelectOptions) ([]Selection, error) {
	var x *xpath.Expr
	var err error
	if opt.Namespaces != nil {
		x, err = xpath.CompileNS(expr, opt.Namespaces)
	} else {
		x, err = xpath.Compile(expr)
	}
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	plan := v.public
	if opt.Secrets {
		plan = v.root
	}
	root := &xnode{plan: plan, v: reflect.ValueOf(d).Elem(), read: opt.Read}
	val, err := x.EvalWithin(ctx, root, root, opt.MaxSteps)
	var le *xpath.LimitError
	switch {
	case errors.As(err, &le):
		return nil, fmt.Errorf("%w: %w", ErrLimit, le)
	case err != nil:
		return nil, fmt.Errorf("validate: %w", err)
	case val.Kind() != xpath.NodeSetKind:
		return nil, fmt.Errorf("validate: %q yields a %s, not a node-set", expr, val.Kind())
	}
	nodes := val.Nodes()
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

// redact returns a copy of the plan tree below p in which the secret
// leaves are hidden (fieldPlan.hidden): the tree as a reader without the
// right to see secrets sees it. Constraints are shared with p; only the
// plans are copied, once, when the Validator is built.
func redact(p *nodePlan, done map[*nodePlan]*nodePlan) *nodePlan {
	if c, ok := done[p]; ok {
		return c
	}
	c := new(nodePlan)
	*c = *p
	done[p] = c
	c.fields = append([]fieldPlan(nil), p.fields...)
	for i := range c.fields {
		fp := &c.fields[i]
		fp.hidden = fp.f.Secret
		if fp.elem != nil {
			fp.elem = redact(fp.elem, done)
		}
	}
	return c
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
