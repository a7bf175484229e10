package validate

import (
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"sync"

	"secgw/generated"
	"secgw/internal/schema"
	"secgw/internal/xpath"
)

// Validator checks configurations against the schema. Build it once with
// New; it is read-only afterwards and safe for concurrent use.
type Validator struct {
	s    *schema.Schema
	root *nodePlan
	// public is root with the secret leaves hidden, for the expressions
	// of readers who may not see secrets (Select).
	public *nodePlan
	// all lists every constraint with its location, for the dependency
	// analysis of incremental validation.
	all []constraintRef
	// policies indexes security policy names for incremental checks.
	policies *policyIndex
}

// New compiles every constraint of the schema.
func New(s *schema.Schema) (*Validator, error) {
	c := &compiler{s: s, plans: map[*schema.Binding]*nodePlan{}, re: map[string]*regexp.Regexp{}, xp: map[string]*xpath.Expr{}}
	root, err := c.plan(s.RootBinding())
	if err != nil {
		return nil, err
	}
	v := &Validator{s: s, root: root, public: redact(root, map[*nodePlan]*nodePlan{}), policies: &policyIndex{byVRF: map[string]policyNames{}}}
	v.all = collectConstraints(root, nil)
	return v, nil
}

// Validate checks the whole configuration d and returns nil or Errors.
func (v *Validator) Validate(d *generated.Device) error {
	w := &walker{v: v}
	root := v.rootNode(d)
	w.node(root)
	w.crossChecks(d, nil)
	if len(w.errs) == 0 {
		return nil
	}
	return w.errs
}

func (v *Validator) rootNode(d *generated.Device) *xnode {
	return &xnode{plan: v.root, v: reflect.ValueOf(d).Elem()}
}

type walker struct {
	v    *Validator
	errs Errors
}

func (w *walker) fail(x *xnode, k Kind, format string, args ...any) {
	if len(w.errs) >= maxErrors {
		return
	}
	w.errs = append(w.errs, &Error{Path: x.path(), Kind: k, Message: fmt.Sprintf(format, args...)})
}

// node checks the container or list entry x and everything below it.
func (w *walker) node(x *xnode) {
	if len(w.errs) >= maxErrors {
		return
	}
	w.local(x)
	p := x.plan
	for i := range p.fields {
		fp := &p.fields[i]
		f := fp.f
		if !f.Config {
			continue
		}
		switch f.Kind {
		case schema.KindContainer:
			c, ok := x.node().Container(f, false)
			if ok {
				w.node(x.child(fp, c.V))
			} else if !fp.elem.presence && fp.elem.hasMandatory {
				w.missing(x.child(fp, reflect.Value{}))
			}
		case schema.KindList:
			entries := x.node().Entries(f)
			w.counts(x, fp, len(entries))
			if len(entries) >= parallelMin && runtime.GOMAXPROCS(0) > 1 {
				w.parallel(x, fp, entries)
			} else {
				for _, e := range entries {
					w.node(x.child(fp, e.V))
				}
			}
			if len(fp.uniques) > 0 && len(entries) > 1 {
				w.unique(x, fp, entries)
			}
		}
	}
}

// parallelMin is the list size from which entries are checked on all
// CPUs: the tree is only read, and each worker keeps its own errors, merged
// in entry order so the result does not depend on scheduling.
const parallelMin = 512

func (w *walker) parallel(x *xnode, fp *fieldPlan, entries []schema.Node) {
	n := runtime.GOMAXPROCS(0)
	subs := make([]walker, n)
	var wg sync.WaitGroup
	for i := range subs {
		lo, hi := i*len(entries)/n, (i+1)*len(entries)/n
		subs[i].v = w.v
		wg.Add(1)
		go func(sub *walker, part []schema.Node) {
			defer wg.Done()
			for _, e := range part {
				sub.node(x.child(fp, e.V))
			}
		}(&subs[i], entries[lo:hi])
	}
	wg.Wait()
	for i := range subs {
		for _, e := range subs[i].errs {
			if len(w.errs) >= maxErrors {
				return
			}
			w.errs = append(w.errs, e)
		}
	}
}

// local checks the constraints that belong to the node x itself and to its
// leaves, without descending into child containers and lists. Incremental
// validation uses it on the ancestors of a changed subtree.
func (w *walker) local(x *xnode) {
	p := x.plan
	if p.when != nil && x.parent != nil {
		ok, err := p.when.expr.EvalBool(x, x)
		if err != nil {
			w.fail(x, KindWhen, "when %q cannot be evaluated: %v", p.when.src, err)
		} else if !ok {
			w.fail(x, KindWhen, "%s is only allowed when %s", x.Name(), p.when.src)
		}
	}
	for _, m := range p.musts {
		w.must(x, &m)
	}
	for i := range p.fields {
		fp := &p.fields[i]
		f := fp.f
		if !f.Config {
			continue
		}
		switch f.Kind {
		case schema.KindLeaf:
			val, ok := x.node().Leaf(w.v.s, f)
			if !ok {
				if fp.mandatory {
					w.fail(x, KindMandatory, "%s is mandatory", f.Name)
				}
				continue
			}
			w.leaf(x, fp, val)
		case schema.KindLeafList:
			vals := x.node().LeafList(w.v.s, f)
			w.counts(x, fp, len(vals))
			for _, val := range vals {
				w.leaf(x, fp, val)
			}
		}
	}
}

// leaf checks one leaf or leaf-list value.
func (w *walker) leaf(parent *xnode, fp *fieldPlan, val string) {
	needNode := fp.when != nil || len(fp.musts) > 0 || fp.leafref != nil
	bad := fp.typ.check(val, fp.f.Secret)
	if bad == "" && !needNode {
		return
	}
	x := &xnode{parent: parent, fp: fp, value: val}
	if bad != "" {
		w.fail(x, KindType, "%s", bad)
		return
	}
	if fp.when != nil {
		if ok, err := fp.when.expr.EvalBool(x, x); err != nil || !ok {
			w.fail(x, KindWhen, "%s is only allowed when %s", fp.f.Name, fp.when.src)
		}
	}
	for _, m := range fp.musts {
		w.must(x, &m)
	}
	if fp.leafref != nil {
		w.leafref(x, fp, val)
	}
}

func (w *walker) must(x *xnode, m *mustPlan) {
	ok, err := m.expr.EvalBool(x, x)
	if err != nil {
		w.fail(x, KindMust, "must %q cannot be evaluated: %v", m.src, err)
		return
	}
	if !ok {
		w.fail(x, KindMust, "%s", m.msg)
	}
}

// leafref checks that val is the value of one of the nodes the path names
// (RFC 7950 §9.9: require-instance defaults to true).
func (w *walker) leafref(x *xnode, fp *fieldPlan, val string) {
	targets, err := fp.leafref.expr.EvalNodes(x, x)
	if err != nil {
		w.fail(x, KindLeafref, "leafref %q cannot be evaluated: %v", fp.leafref.src, err)
		return
	}
	for _, t := range targets {
		if tv, ok := t.Value(); ok && tv == val {
			return
		}
	}
	if fp.f.Secret {
		val = "(the secret value)" // never in an error, as in check
	}
	w.fail(x, KindLeafref, "%s", refMessage(fp.leafref.src, val))
}

// refMessage words a dangling reference: "../../ppk/name" and "foo" give
// `no ppk named "foo" exists`.
func refMessage(path, val string) string {
	p := stripPrefixes(path)
	var list, key string
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			key = p[i+1:]
			rest := p[:i]
			if j := lastSlash(rest); j >= 0 {
				list = rest[j+1:]
			} else {
				list = rest
			}
			break
		}
	}
	if list == "" {
		return fmt.Sprintf("%q does not refer to an existing %s", val, p)
	}
	return fmt.Sprintf("no %s with %s %q exists", list, key, val)
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

func (w *walker) counts(x *xnode, fp *fieldPlan, n int) {
	if fp.min > 0 && n < fp.min {
		w.fail(x, KindMinElements, "%s needs at least %d entries, has %d", fp.f.Name, fp.min, n)
	}
	if fp.max > 0 && n > fp.max {
		w.fail(x, KindMaxElements, "%s allows at most %d entries, has %d", fp.f.Name, fp.max, n)
	}
}

// missing reports the mandatory leaves under an absent non-presence
// container (they must exist whenever the container's parent does).
func (w *walker) missing(x *xnode) {
	p := x.plan
	for i := range p.fields {
		fp := &p.fields[i]
		switch {
		case fp.mandatory:
			w.fail(x, KindMandatory, "%s is mandatory", fp.f.Name)
		case fp.f.Kind == schema.KindContainer && !fp.elem.presence && fp.elem.hasMandatory:
			w.missing(x.child(fp, reflect.Value{}))
		}
	}
}

// unique checks the unique statements of a list (RFC 7950 §7.8.3): no two
// entries may have the same values for all the leaves of one statement,
// entries missing one of them excepted.
func (w *walker) unique(parent *xnode, fp *fieldPlan, entries []schema.Node) {
	for _, set := range fp.uniques {
		seen := make(map[string]string, len(entries))
		for _, e := range entries {
			x := parent.child(fp, e.V)
			var tuple []byte
			complete := true
			for _, rel := range set {
				vals := descend(x, rel)
				if len(vals) == 0 {
					complete = false
					break
				}
				tuple = append(tuple, vals[0]...)
				tuple = append(tuple, 0)
			}
			if !complete {
				continue
			}
			if other, dup := seen[string(tuple)]; dup {
				w.fail(x, KindUnique, "%s has the same %s as %s %q; it must be unique", fp.f.Name, joinPaths(set), fp.f.Name, other)
				continue
			}
			seen[string(tuple)] = x.key()
		}
	}
}

func descend(x *xnode, rel []string) []string {
	nodes := []*xnode{x}
	for _, step := range rel {
		var next []*xnode
		for _, n := range nodes {
			for _, c := range n.Children(step) {
				next = append(next, c.(*xnode))
			}
		}
		nodes = next
	}
	var out []string
	for _, n := range nodes {
		if v, ok := n.Value(); ok {
			out = append(out, v)
		}
	}
	return out
}

func joinPaths(set [][]string) string {
	s := ""
	for i, p := range set {
		if i > 0 {
			s += " and "
		}
		for j, step := range p {
			if j > 0 {
				s += "/"
			}
			s += step
		}
	}
	return s
}
