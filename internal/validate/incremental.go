package validate

import (
	"strings"

	"secgw/generated"
	"secgw/internal/schema"
)

// ValidateChange checks what a change at path p (a container or list entry,
// added, modified or deleted) can affect, assuming the rest of d was valid:
//
//   - the subtree at p, in full, when it exists;
//   - the node-local constraints of each ancestor of p, and the counts and
//     unique statements of the lists on the way;
//   - every constraint elsewhere whose expression reads inside p (found by
//     the static dependency analysis of deps.go), on all its instances;
//   - the cross references of the vrf, narrowed to one VPN when p is in one.
//
// For one VPN of a 10k-VPN configuration this touches the VPN and a linear
// scan of security policy names, not the other VPNs' subtrees.
func (v *Validator) ValidateChange(d *generated.Device, p schema.DataPath) error {
	w := &walker{v: v}
	x := v.rootNode(d)
	target := x
	var steps []string
	for _, e := range p {
		steps = append(steps, e.Name)
		if target == nil {
			continue
		}
		w.local(target)
		i, ok := target.plan.b.Index(e.Name)
		if !ok {
			w.add(p.String(), KindType, "no node %q in the schema", e.Name)
			return w.errs
		}
		fp := &target.plan.fields[i]
		var next *xnode
		switch fp.f.Kind {
		case schema.KindContainer:
			if c, ok := target.node().Container(fp.f, false); ok {
				next = target.child(fp, c.V)
			}
		case schema.KindList:
			w.counts(target, fp, target.node().Len(fp.f))
			if len(fp.uniques) > 0 {
				if entries := target.node().Entries(fp.f); len(entries) > 1 {
					w.unique(target, fp, entries)
				}
			}
			if c, ok, _ := target.node().Entry(v.s, fp.f, e.Key, false); ok {
				next = target.child(fp, c.V)
			}
		default:
			// A leaf: its parent's local check covered it.
		}
		target = next
	}
	if target != nil {
		w.node(target)
	}
	at := "/" + strings.Join(steps, "/")
	for _, c := range v.all {
		if within(c.at(), at) {
			continue // inside the subtree: checked by the walk above
		}
		for _, dep := range c.deps {
			if overlaps(dep, at) {
				w.recheck(x, c, 0)
				break
			}
		}
	}
	sc := &scope{}
	if len(p) > 0 && p[0].Name == "vrf" {
		sc.vrf = p[0].Key
		if len(p) > 2 && p[1].Name == "ike" && p[2].Name == "vpn" {
			sc.vpn = p[2].Key
		}
		w.crossChecks(d, sc)
	} else {
		w.crossChecks(d, nil)
	}
	if len(w.errs) == 0 {
		return nil
	}
	return w.errs
}

// recheck evaluates constraint c on every instance of its location below x,
// whose depth in c.loc is i.
func (w *walker) recheck(x *xnode, c constraintRef, i int) {
	if i == len(c.loc) {
		if c.field < 0 {
			p := x.plan
			if p.when != nil && x.parent != nil {
				if ok, err := p.when.expr.EvalBool(x, x); err != nil || !ok {
					w.fail(x, KindWhen, "%s is only allowed when %s", x.Name(), p.when.src)
				}
			}
			for _, m := range p.musts {
				w.must(x, &m)
			}
			return
		}
		fp := &x.plan.fields[c.field]
		switch fp.f.Kind {
		case schema.KindLeaf:
			if val, ok := x.node().Leaf(w.v.s, fp.f); ok {
				w.leaf(x, fp, val)
			}
		case schema.KindLeafList:
			for _, val := range x.node().LeafList(w.v.s, fp.f) {
				w.leaf(x, fp, val)
			}
		}
		return
	}
	j, ok := x.plan.b.Index(c.loc[i])
	if !ok || !x.v.IsValid() {
		return
	}
	fp := &x.plan.fields[j]
	switch fp.f.Kind {
	case schema.KindContainer:
		if n, ok := x.node().Container(fp.f, false); ok {
			w.recheck(x.child(fp, n.V), c, i+1)
		}
	case schema.KindList:
		for _, e := range x.node().Entries(fp.f) {
			w.recheck(x.child(fp, e.V), c, i+1)
		}
	}
}
