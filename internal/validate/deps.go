package validate

import (
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
	"secgw/internal/xpath"
)

// exprDeps resolves the location paths of an expression evaluated at the
// schema node e into the schema paths it reads ("/vrf/ike/pool"). A path
// the analysis cannot follow (a filter, an ancestor or descendant axis, an
// unknown name) stops where it is: the expression then depends on that
// whole subtree, which keeps incremental validation conservative.
func exprDeps(e *yang.Entry, x *xpath.Expr) []string {
	var out []string
	for _, p := range x.Paths() {
		if p.InPredicate && !p.Absolute && !p.Current {
			// Relative to the nodes its outer step selects: the outer
			// path's dependency already covers their whole subtree.
			continue
		}
		if p.Filter {
			out = append(out, "/")
			continue
		}
		cur := e
		if p.Absolute {
			cur = nil
		}
		var steps []string
		if cur != nil {
			steps = schemaSteps(cur)
		}
	walk:
		for _, s := range p.Steps {
			switch {
			case s.Axis == xpath.AxisSelf:
			case s.Axis == xpath.AxisParent:
				if len(steps) > 0 {
					steps = steps[:len(steps)-1]
				}
			case s.Axis == xpath.AxisChild && s.Test == xpath.TestName && s.Name != "*":
				steps = append(steps, s.Name)
			default:
				break walk
			}
		}
		out = append(out, "/"+strings.Join(steps, "/"))
	}
	return out
}

// schemaSteps returns the data node names from the root down to e.
func schemaSteps(e *yang.Entry) []string {
	p := strings.TrimPrefix(schema.Path(e), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// overlaps reports whether schema paths a and b are on one branch: one is
// the other or an ancestor of it.
func overlaps(a, b string) bool {
	if a == "/" || b == "/" {
		return true
	}
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// within reports whether a is b or below it.
func within(a, b string) bool {
	return b == "/" || a == b || strings.HasPrefix(a, b+"/")
}

// constraintRef locates one compiled constraint that reads outside the
// node it sits on, for incremental validation.
type constraintRef struct {
	loc   []string // schema steps of the node holding the constraint
	owner *nodePlan
	field int // index in owner.fields, or -1 for the node's own constraints
	deps  []string
}

func (c constraintRef) at() string { return "/" + strings.Join(c.loc, "/") }

// collectConstraints lists every must, when and leafref below p.
func collectConstraints(p *nodePlan, loc []string) []constraintRef {
	var out []constraintRef
	var own []string
	if p.when != nil {
		own = append(own, p.when.deps...)
	}
	for _, m := range p.musts {
		own = append(own, m.deps...)
	}
	if len(own) > 0 {
		out = append(out, constraintRef{loc: loc, owner: p, field: -1, deps: own})
	}
	for i := range p.fields {
		fp := &p.fields[i]
		if !fp.f.Config {
			continue
		}
		floc := append(append([]string(nil), loc...), fp.f.Name)
		switch fp.f.Kind {
		case schema.KindContainer, schema.KindList:
			if fp.elem != p {
				out = append(out, collectConstraints(fp.elem, floc)...)
			}
		default:
			var deps []string
			if fp.when != nil {
				deps = append(deps, fp.when.deps...)
			}
			for _, m := range fp.musts {
				deps = append(deps, m.deps...)
			}
			if fp.leafref != nil {
				deps = append(deps, fp.leafref.deps...)
			}
			if len(deps) > 0 {
				out = append(out, constraintRef{loc: loc, owner: p, field: i, deps: deps})
			}
		}
	}
	return out
}
