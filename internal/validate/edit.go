package validate

import "secgw/internal/schema"

// CheckLeaf checks the value val of the leaf or leaf-list at p against its
// type (range, length, pattern) and returns the error Validate reports for
// that value in a tree holding it (Kind KindType, the same path and
// message), or nil. A key value is checked at the path of its key leaf.
// The type of a value depends on nothing else in the tree, so an edit
// whose written values all pass has no type error for Validate to find
// among them: the check costs the edit, not the configuration.
func (v *Validator) CheckLeaf(p schema.DataPath, val string) *Error {
	fp := v.fieldAt(p)
	if fp == nil || fp.typ == nil || !fp.f.Config {
		return nil
	}
	if bad := fp.typ.check(val, fp.f.Secret); bad != "" {
		return &Error{Path: p.String(), Kind: KindType, Message: bad}
	}
	return nil
}

// fieldAt returns the plan of the field that p ends at, or nil when p is
// not in the schema.
func (v *Validator) fieldAt(p schema.DataPath) *fieldPlan {
	plan := v.root
	var fp *fieldPlan
	for _, e := range p {
		if plan == nil {
			return nil
		}
		i, ok := plan.b.Index(e.Name)
		if !ok {
			return nil
		}
		fp = &plan.fields[i]
		plan = fp.elem
	}
	return fp
}
