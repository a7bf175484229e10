package datastore

import (
	"encoding/json"
	"fmt"
	"reflect"

	"secgw/internal/schema"
)

// The order of an ordered-by user list (RFC 7950 §7.7.7) is
// configuration: the NACM rules, first match wins (RFC 8341 §3.4.5). A
// diff reports an entry whose place changed as a Move; the journal file,
// the history and rollback replay a list's order with one op (a Move on
// the list itself, its data the keys in order), after the creations and
// deletions of the same commit, which alone cannot place an entry.

// orderedChanges compares ordered maps av and bv (schema.OrderedEntries):
// the entries of av gone from bv (in av's order), those of bv new to it
// and those present in both that moved (schema.Moved), in bv's order,
// each with its entries in av and bv.
func orderedChanges(av, bv reflect.Value) (deleted, created, moved []orderedChange) {
	ka, ea := schema.OrderedEntries(av)
	kb, eb := schema.OrderedEntries(bv)
	sa, sb := make([]string, len(ka)), make([]string, len(kb))
	inB := make(map[string]bool, len(kb))
	for i, k := range kb {
		sb[i] = fmt.Sprint(k.Interface())
		inB[sb[i]] = true
	}
	inA := make(map[string]int, len(ka))
	for i, k := range ka {
		sa[i] = fmt.Sprint(k.Interface())
		inA[sa[i]] = i
		if !inB[sa[i]] {
			deleted = append(deleted, orderedChange{key: k, a: ea[i]})
		}
	}
	mv := schema.Moved(sa, sb)
	for j, k := range kb {
		i, ok := inA[sb[j]]
		switch {
		case !ok:
			created = append(created, orderedChange{key: k, b: eb[j]})
		case mv[sb[j]]:
			moved = append(moved, orderedChange{key: k, a: ea[i], b: eb[j]})
		}
	}
	return deleted, created, moved
}

// orderedChange is an entry of an ordered list in a diff: its key and
// its entries (pointers) in the old and new trees, invalid when absent.
type orderedChange struct {
	key, a, b reflect.Value
}

// diffOrdered is diffList for an ordered-by user list: deletions, then
// in the new order creations, moves, and the changes inside the entries
// kept.
func diffOrdered(s *schema.Schema, a, b schema.Node, f *schema.Field, path schema.DataPath, out *[]Change) {
	ma, mb := a.V.Field(f.Index), b.V.Field(f.Index)
	keyName := schema.KeyNames(f.Entry)[0]
	at := func(k reflect.Value) schema.DataPath {
		ks, _ := s.Format(k)
		return path.Child(schema.Elem{Name: f.Name, KeyName: keyName, Key: ks})
	}
	deleted, created, moved := orderedChanges(ma, mb)
	for _, c := range deleted {
		*out = append(*out, Change{Op: Delete, Path: at(c.key)})
	}
	isNew := make(map[any]bool, len(created))
	for _, c := range created {
		isNew[c.key.Interface()] = true
	}
	isMoved := make(map[any]bool, len(moved))
	for _, c := range moved {
		isMoved[c.key.Interface()] = true
	}
	kb, eb := schema.OrderedEntries(mb)
	for j, k := range kb {
		p := at(k)
		if isNew[k.Interface()] {
			*out = append(*out, Change{Op: Create, Path: p})
			continue
		}
		if isMoved[k.Interface()] {
			*out = append(*out, Change{Op: Move, Path: p})
		}
		ea := schema.ListGet(ma, k)
		if !equal(ea, eb[j]) {
			diffNode(s, schema.Node{V: ea.Elem(), B: f.Elem}, schema.Node{V: eb[j].Elem(), B: f.Elem}, p, out)
		}
	}
}

// touchedOrdered reports, for diffTouched, the entries of ordered list f
// of the touched node at p created, deleted and moved between av and bv.
func touchedOrdered(s *schema.Schema, f *schema.Field, p schema.DataPath, av, bv reflect.Value, add func(Change)) {
	keyName := schema.KeyNames(f.Entry)[0]
	deleted, created, moved := orderedChanges(av, bv)
	for _, set := range []struct {
		op Op
		cs []orderedChange
	}{{Delete, deleted}, {Create, created}, {Move, moved}} {
		for _, c := range set.cs {
			ks, _ := s.Format(c.key)
			add(Change{Op: set.op, Path: p.Child(schema.Elem{Name: f.Name, KeyName: keyName, Key: ks})})
		}
	}
}

// orderOps returns the ops that give each ordered-by user list with an
// entry created, deleted or moved by changes its order in newRoot (fwd)
// and in oldRoot (inv): a Move op on the list, the keys in its data.
func orderOps(s *schema.Schema, oldRoot, newRoot schema.Node, changes []Change) (fwd, inv []op, err error) {
	seen := map[string]bool{}
	for _, c := range changes {
		if len(c.Path) == 0 || c.Op == Update {
			continue
		}
		last := c.Path[len(c.Path)-1]
		if last.KeyName == "" {
			continue
		}
		list := c.Path[:len(c.Path)-1].Child(schema.Elem{Name: last.Name})
		if seen[list.String()] {
			continue
		}
		seen[list.String()] = true
		fo, ordered, err := orderOf(s, newRoot, list)
		if err != nil || !ordered {
			if err != nil {
				return nil, nil, err
			}
			continue
		}
		io, _, err := orderOf(s, oldRoot, list)
		if err != nil {
			return nil, nil, err
		}
		fwd = append(fwd, op{Op: Move, Path: list, Data: fo})
		inv = append(inv, op{Op: Move, Path: list, Data: io})
	}
	return fwd, inv, nil
}

// orderOf returns the keys, in order, of the list at path list (its last
// step names the list) of the tree of root as JSON, and whether it is
// ordered-by user; a missing parent has an empty list.
func orderOf(s *schema.Schema, root schema.Node, list schema.DataPath) (json.RawMessage, bool, error) {
	parent, ok, err := s.ResolveFrom(root, list[:len(list)-1], false)
	if err != nil {
		return nil, false, err
	}
	f := fieldAt(root.B, list)
	if f == nil {
		return nil, false, fmt.Errorf("datastore: %s: unknown node", list)
	}
	if !f.Ordered {
		return nil, false, nil
	}
	keys := []string{}
	if ok {
		keys = parent.Order(f)
	}
	data, err := json.Marshal(keys)
	return data, true, err
}

// fieldAt returns the field that the last step of p names, below the
// node of binding b, or nil.
func fieldAt(b *schema.Binding, p schema.DataPath) *schema.Field {
	var f *schema.Field
	for _, el := range p {
		if b == nil {
			return nil
		}
		if f = b.Field(el.Name); f == nil {
			return nil
		}
		b = f.Elem
	}
	return f
}

// applyOrder carries out a Move op: the list at o.Path takes the order
// of o.Data (schema.Node.Reorder).
func applyOrder(s *schema.Schema, root schema.Node, o op) error {
	p := schema.DataPath(o.Path)
	parent, ok, err := s.ResolveFrom(root, p[:len(p)-1], false)
	if err != nil {
		return err
	}
	if !ok {
		return nil // the list's parent is gone: nothing to order
	}
	f := parent.B.Field(p[len(p)-1].Name)
	if f == nil || f.Kind != schema.KindList {
		return fmt.Errorf("datastore: %s: not a list", p)
	}
	var keys []string
	if err := json.Unmarshal(o.Data, &keys); err != nil {
		return fmt.Errorf("datastore: %s: order: %w", p, err)
	}
	return parent.Reorder(s, f, keys)
}
