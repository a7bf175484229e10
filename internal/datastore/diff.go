package datastore

import (
	"reflect"

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
)

// String names the operation.
func (o Op) String() string {
	switch o {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
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
// reflect.DeepEqual before descending, so unchanged subtrees cost one
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
			if !leavesDiffer && !reflect.DeepEqual(av.Interface(), bv.Interface()) {
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
				if ca.V.Addr().Pointer() != cb.V.Addr().Pointer() && !reflect.DeepEqual(ca.V.Interface(), cb.V.Interface()) {
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
	if ma.Len() == 0 && mb.Len() == 0 {
		return
	}
	keyName := schema.KeyNames(f.Entry)[0]
	elem := func(key reflect.Value) schema.DataPath {
		k, _ := s.Format(key)
		return path.Child(schema.Elem{Name: f.Name, KeyName: keyName, Key: k})
	}
	for _, ea := range a.Entries(f) {
		key := ea.V.Field(f.Elem.Fields[f.KeyIndex].Index)
		mk := key
		if mk.Kind() == reflect.Pointer {
			mk = mk.Elem()
		}
		eb := mb.MapIndex(mk)
		if !eb.IsValid() {
			*out = append(*out, Change{Op: Delete, Path: elem(key)})
			continue
		}
		if eb.Pointer() == ea.V.Addr().Pointer() || reflect.DeepEqual(ea.V.Interface(), eb.Elem().Interface()) {
			continue
		}
		diffNode(s, ea, schema.Node{V: eb.Elem(), B: f.Elem}, elem(key), out)
	}
	for _, eb := range b.Entries(f) {
		key := eb.V.Field(f.Elem.Fields[f.KeyIndex].Index)
		mk := key
		if mk.Kind() == reflect.Pointer {
			mk = mk.Elem()
		}
		if !ma.MapIndex(mk).IsValid() {
			*out = append(*out, Change{Op: Create, Path: elem(key)})
		}
	}
}
