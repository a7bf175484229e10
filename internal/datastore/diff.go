package datastore

import (
	"reflect"
	"sort"

	"secgw/generated"
	"secgw/internal/schema"
)

// Op is what a Change does to its node.
type Op uint8

// The change operations.
const (
	Create Op = iota + 1 // the node is new
	Update               // some leaf of the node itself changed
	Delete               // the node is gone, with its subtree
	// Move: the entry of an ordered-by user list took another place
	// among the entries it had before (its own changes are reported
	// apart). As a durable op on the list itself: the list's order.
	Move
)

// String names the operation. Written by hand, not by stringer: any other
// value prints "?", not stringer's "Op(n)".
func (o Op) String() string {
	switch o {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	case Move:
		return "move"
	}
	return "?"
}

// Change is one difference between two configurations, at the granularity
// of a container or list entry: subscribers see "vpn hq was updated", not a
// list of leaves. A created or deleted node stands for its whole subtree; an
// updated node means its own leaves (or leaf-lists) changed; changes below it
// are reported separately.
type Change struct {
	Op   Op
	Path schema.DataPath
}

// Diff returns the changes that turn old into new, parents before their
// children, list entries in key order. It compares list entries with
// a structural equality before descending, so unchanged subtrees cost one
// comparison; ygot.Diff, by contrast, is quadratic in list sizes.
func Diff(s *schema.Schema, old, new *generated.Device) []Change {
	var out []Change
	if old == nil {
		old = &generated.Device{}
	}
	if new == nil {
		new = &generated.Device{}
	}
	diffNode(s, s.RootNode(old), s.RootNode(new), nil, &out)
	return out
}

func diffNode(s *schema.Schema, a, b schema.Node, path schema.DataPath, out *[]Change) {
	leavesDiffer := false
	for i := range a.B.Fields {
		f := &a.B.Fields[i]
		if !f.Config {
			continue
		}
		av, bv := a.V.Field(f.Index), b.V.Field(f.Index)
		switch f.Kind {
		case schema.KindLeaf, schema.KindLeafList:
			if !leavesDiffer && !equal(av, bv) {
				leavesDiffer = true
			}
		}
	}
	if leavesDiffer && len(path) > 0 {
		*out = append(*out, Change{Op: Update, Path: path})
	}
	for i := range a.B.Fields {
		f := &a.B.Fields[i]
		if !f.Config {
			continue
		}
		switch f.Kind {
		case schema.KindContainer:
			ca, okA := a.Container(f, false)
			cb, okB := b.Container(f, false)
			p := path.Child(schema.Elem{Name: f.Name})
			switch {
			case okA && okB:
				if !equal(ca.V.Addr(), cb.V.Addr()) {
					diffNode(s, ca, cb, p, out)
				}
			case okA:
				*out = append(*out, Change{Op: Delete, Path: p})
			case okB:
				*out = append(*out, Change{Op: Create, Path: p})
			}
		case schema.KindList:
			diffList(s, a, b, f, path, out)
		}
	}
}

func diffList(s *schema.Schema, a, b schema.Node, f *schema.Field, path schema.DataPath, out *[]Change) {
	ma, mb := a.V.Field(f.Index), b.V.Field(f.Index)
	la, lb := schema.ListLen(ma), schema.ListLen(mb)
	if la == 0 && lb == 0 {
		return
	}
	if la == lb && ma.Pointer() == mb.Pointer() {
		return
	}
	if f.Ordered {
		diffOrdered(s, a, b, f, path, out)
		return
	}
	keyName := schema.KeyNames(f.Entry)[0]
	// Walk the maps unsorted (sorting 10k keys costs more than comparing),
	// then report the few changed entries in key order.
	type changed struct {
		key  reflect.Value
		a, b reflect.Value // entry pointers; invalid when absent
	}
	var diffs []changed
	it := ma.MapRange()
	for it.Next() {
		ev := mb.MapIndex(it.Key())
		if !ev.IsValid() {
			diffs = append(diffs, changed{key: it.Key(), a: it.Value()})
		} else if !equal(it.Value(), ev) {
			diffs = append(diffs, changed{key: it.Key(), a: it.Value(), b: ev})
		}
	}
	it = mb.MapRange()
	for it.Next() {
		if !ma.MapIndex(it.Key()).IsValid() {
			diffs = append(diffs, changed{key: it.Key(), b: it.Value()})
		}
	}
	keys := make([]reflect.Value, len(diffs))
	for i := range diffs {
		keys[i] = diffs[i].key
	}
	order := make(map[reflect.Value]int, len(diffs))
	for i, k := range keys {
		order[k] = i
	}
	schema.SortKeys(keys)
	for _, k := range keys {
		c := diffs[order[k]]
		ks, _ := s.Format(k)
		p := path.Child(schema.Elem{Name: f.Name, KeyName: keyName, Key: ks})
		switch {
		case !c.b.IsValid():
			*out = append(*out, Change{Op: Delete, Path: p})
		case !c.a.IsValid():
			*out = append(*out, Change{Op: Create, Path: p})
		default:
			diffNode(s, schema.Node{V: c.a.Elem(), B: f.Elem}, schema.Node{V: c.b.Elem(), B: f.Elem}, p, out)
		}
	}
}

// DiffTouched returns the changes between old and new at the nodes a
// journal says were touched, without looking anywhere else: its cost is
// the size of the change. Each touched node present in both trees is
// compared shallowly — its own leaves (Update), and which child containers
// and list entries exist (Create, Delete); a touched node inside a created
// or deleted subtree is covered by that subtree's change. A replaced node
// (Journal.Replaced: removed, maybe created again) present in both trees
// is compared in full, its subtree being possibly all new.
func DiffTouched(s *schema.Schema, old, new *generated.Device, touched []schema.DataPath, replaced ...schema.DataPath) []Change {
	return diffTouched(s, old, new, touched, replaced, nil)
}

// diffJournal is DiffTouched from old to new, new being old edited
// through journal j: the lists of the touched nodes are compared at the
// keys the journal says were written, not entry by entry (a VPN added
// to 100k costs one lookup).
func diffJournal(s *schema.Schema, old, new *generated.Device, j *schema.Journal) []Change {
	return diffTouched(s, old, new, j.Touched(), j.Replaced(), j.ListKeys)
}

// diffTouched is DiffTouched; listKeys, if set, gives the keys to compare
// in a list of a touched node (schema.Journal.ListKeys).
func diffTouched(s *schema.Schema, old, new *generated.Device, touched, replaced []schema.DataPath,
	listKeys func(schema.DataPath, string) ([]string, bool)) []Change {
	var out []Change
	seen := map[string]bool{}
	add := func(c Change) {
		k := c.Path.String()
		if c.Op == Move {
			k += "\x00move"
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	for _, p := range replaced {
		a, okA, errA := s.Resolve(old, p, false)
		b, okB, errB := s.Resolve(new, p, false)
		if errA != nil || errB != nil || !okA || !okB || equal(a.V.Addr(), b.V.Addr()) {
			continue // gone or created (the touched parent says so), or unchanged
		}
		var deep []Change
		diffNode(s, a, b, p, &deep)
		for _, c := range deep {
			add(c)
		}
	}
	for _, p := range touched {
		a, okA, errA := s.Resolve(old, p, false)
		b, okB, errB := s.Resolve(new, p, false)
		if errA != nil || errB != nil || !okA || !okB {
			continue
		}
		leaves := false
		for i := range a.B.Fields {
			f := &a.B.Fields[i]
			if !f.Config {
				continue
			}
			av, bv := a.V.Field(f.Index), b.V.Field(f.Index)
			switch f.Kind {
			case schema.KindLeaf, schema.KindLeafList:
				if !equal(av, bv) {
					leaves = true
				}
			case schema.KindContainer:
				cp := p.Child(schema.Elem{Name: f.Name})
				switch {
				case av.IsNil() && !bv.IsNil():
					add(Change{Op: Create, Path: cp})
				case !av.IsNil() && bv.IsNil():
					add(Change{Op: Delete, Path: cp})
				}
			case schema.KindList:
				keyName := schema.KeyNames(f.Entry)[0]
				if f.Ordered {
					touchedOrdered(s, f, p, av, bv, add)
					continue
				}
				if listKeys != nil {
					if written, ok := listKeys(p, f.Name); ok {
						kf := &f.Elem.Fields[f.KeyIndex]
						for _, ks := range written {
							kv, err := s.ParseValue(kf, ks)
							if err != nil {
								continue
							}
							if kv.Kind() == reflect.Pointer {
								kv = kv.Elem()
							}
							inA, inB := av.Len() > 0 && av.MapIndex(kv).IsValid(), bv.Len() > 0 && bv.MapIndex(kv).IsValid()
							cp := p.Child(schema.Elem{Name: f.Name, KeyName: keyName, Key: ks})
							switch {
							case inA && !inB:
								add(Change{Op: Delete, Path: cp})
							case !inA && inB:
								add(Change{Op: Create, Path: cp})
							}
						}
						continue
					}
				}
				var keys []reflect.Value
				it := av.MapRange()
				for it.Next() {
					if !bv.MapIndex(it.Key()).IsValid() {
						keys = append(keys, it.Key())
					}
				}
				nDel := len(keys)
				it = bv.MapRange()
				for it.Next() {
					if !av.MapIndex(it.Key()).IsValid() {
						keys = append(keys, it.Key())
					}
				}
				for i, k := range keys {
					ks, _ := s.Format(k)
					op := Create
					if i < nDel {
						op = Delete
					}
					add(Change{Op: op, Path: p.Child(schema.Elem{Name: f.Name, KeyName: keyName, Key: ks})})
				}
			}
		}
		if leaves && len(p) > 0 {
			add(Change{Op: Update, Path: p})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path.String() < out[j].Path.String() })
	return out
}
