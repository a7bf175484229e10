package validate

import (
	"fmt"
	"strings"

	"secgw/generated"
	"secgw/internal/nacm"
	"secgw/internal/schema"
	"secgw/internal/xpath"
)

// RulePath resolves the path of an RFC 8341 data-node rule (its
// node-instance-identifier: an instance-identifier whose key predicates
// are optional) against the schema: each step must name a child of the
// node before it, and a key predicate the key of a list step, with a
// value of the key's type, returned in canonical form so that it compares
// equal to the key of the entry it names. Module prefixes are accepted
// and not checked: a node name is unique among its siblings here. The
// error says in plain words what is wrong, for the operator.
func (v *Validator) RulePath(expr string) ([]nacm.Step, error) {
	steps, err := xpath.ParseInstanceIdentifier(expr)
	if err != nil {
		msg := err.Error()
		if xe, ok := err.(*xpath.Error); ok {
			msg = xe.Msg
		}
		return nil, fmt.Errorf("path %q does not parse: %s", expr, msg)
	}
	out := make([]nacm.Step, 0, len(steps))
	b := v.s.RootBinding()
	at := ""
	for _, st := range steps {
		if b == nil {
			return nil, fmt.Errorf("path %q: %s is a leaf: no node %s below it", expr, at, st.Name)
		}
		f := b.Field(st.Name)
		if f == nil {
			return nil, fmt.Errorf("path %q: no node %s under %s", expr, st.Name, orRoot(at))
		}
		at += "/" + st.Name
		step := nacm.Step{Name: st.Name}
		if len(st.Keys) > 0 {
			if f.Kind != schema.KindList {
				return nil, fmt.Errorf("path %q: %s is not a list: it takes no key predicate", expr, at)
			}
			kf := &f.Elem.Fields[f.KeyIndex]
			if len(st.Keys) > 1 {
				return nil, fmt.Errorf("path %q: %s has one key, %s: one key predicate", expr, at, kf.Name)
			}
			k := st.Keys[0]
			if k.Name != kf.Name {
				return nil, fmt.Errorf("path %q: the key of %s is %s, not %s", expr, at, kf.Name, k.Name)
			}
			val, err := v.s.ParseValue(kf, k.Value)
			if err != nil {
				return nil, fmt.Errorf("path %q: %q is not a value of the key %s of %s: %v", expr, k.Value, kf.Name, at, err)
			}
			canon, ok := v.s.Format(val)
			if !ok {
				return nil, fmt.Errorf("path %q: %q is not a value of the key %s of %s", expr, k.Value, kf.Name, at)
			}
			step.Key, step.Keyed = canon, true
			at += "[" + kf.Name + "='" + canon + "']"
		}
		out = append(out, step)
		b = f.Elem
	}
	return out, nil
}

func orRoot(at string) string {
	if at == "" {
		return "/"
	}
	return at
}

// checkNACM refuses the data-node rules of /nacm whose path does not
// parse or names no node of the schema (RulePath), at the rule's path
// leaf: the server could not apply them as written.
func (w *walker) checkNACM(d *generated.Device) {
	n := d.GetNacm()
	if n == nil {
		return
	}
	for _, rl := range n.RuleList.Values() {
		ln := rl.GetName()
		for _, r := range rl.Rule.Values() {
			rn := r.GetName()
			if r.Path == nil {
				continue
			}
			if _, err := w.v.RulePath(*r.Path); err != nil {
				path := "/nacm/rule-list[name=" + quoteKey(ln) + "]/rule[name=" + quoteKey(rn) + "]/path"
				w.add(path, KindType, "%v", err)
			}
		}
	}
}

// quoteKey quotes a key value for an instance-identifier: in single
// quotes unless it holds one (RFC 7950 §9.13).
func quoteKey(s string) string {
	if strings.Contains(s, "'") {
		return `"` + s + `"`
	}
	return "'" + s + "'"
}
