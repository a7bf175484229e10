package schema

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"secgw/generated"
)

// Elem is one step of a data path: a node name, and for a list entry the
// name and value of its key.
type Elem struct {
	Name    string
	KeyName string // empty unless this step selects a list entry
	Key     string
}

// DataPath addresses a data node, like the instance-identifier
// /vrf[name='main']/ike/vpn[name='hq'] (RFC 7950 §9.13).
type DataPath []Elem

// String renders the path as an instance identifier without prefixes.
func (p DataPath) String() string {
	if len(p) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, e := range p {
		b.WriteByte('/')
		b.WriteString(e.Name)
		if e.KeyName != "" {
			b.WriteByte('[')
			b.WriteString(e.KeyName)
			b.WriteString("='")
			b.WriteString(e.Key)
			b.WriteString("']")
		}
	}
	return b.String()
}

// Child returns a copy of p extended by one step.
func (p DataPath) Child(e Elem) DataPath {
	out := make(DataPath, len(p)+1)
	copy(out, p)
	out[len(p)] = e
	return out
}

// Node is a position in a generated tree: an addressable struct value
// (container or list entry) and its binding.
type Node struct {
	V reflect.Value // the struct (not the pointer), addressable
	B *Binding
	// J, when set, records every change made through this node and the
	// nodes reached from it (see Journal); P is then the node's path.
	J *Journal
	P DataPath
}

// RootNode returns the node of a whole configuration tree.
func (s *Schema) RootNode(d *generated.Device) Node {
	return Node{V: reflect.ValueOf(d).Elem(), B: s.binding.root}
}

// Container returns the container child f of n, creating it when create is
// set; ok is false when it does not exist and create is not set.
func (n Node) Container(f *Field, create bool) (Node, bool) {
	fv := n.V.Field(f.Index)
	if fv.IsNil() {
		if !create {
			return Node{}, false
		}
		n.J.saveField(n, fv)
		fv.Set(reflect.New(f.Type.Elem()))
		if n.J != nil {
			n.J.create(n, fv, Elem{Name: f.Name})
		}
	} else if n.J != nil {
		if c, copied := n.J.ownStruct(fv); copied {
			fv.Set(c)
		}
	}
	return n.child(fv.Elem(), f.Elem, Elem{Name: f.Name}), true
}

// Entry returns the list entry of list f with key value key, creating it
// when create is set. A new entry of an ordered-by user list goes last
// (RFC 7950 §7.8.6: insert defaults to "last").
func (n Node) Entry(s *Schema, f *Field, key string, create bool) (Node, bool, error) {
	kf := &f.Elem.Fields[f.KeyIndex]
	kv, err := s.ParseValue(kf, key)
	if err != nil {
		return Node{}, false, fmt.Errorf("key %s: %w", kf.Name, err)
	}
	mapKey := kv
	if mapKey.Kind() == reflect.Pointer {
		mapKey = mapKey.Elem()
	}
	m := n.V.Field(f.Index)
	el := Elem{Name: f.Name, KeyName: kf.Name, Key: key}
	if e := ListGet(m, mapKey); e.IsValid() {
		return n.child(n.ownEntry(f, m, mapKey, e).Elem(), f.Elem, el), true, nil
	}
	if !create {
		return Node{}, false, nil
	}
	var e reflect.Value
	if f.Ordered {
		e = reflect.New(f.Elem.Type)
		e.Elem().Field(kf.Index).Set(kv)
		n.orderedAppend(f, e) // records its undo first
		if n.J != nil {
			n.J.create(n, e, el)
		}
		return n.child(e.Elem(), f.Elem, el), true, nil
	}
	if m.IsNil() {
		n.J.saveField(n, m)
		m.Set(reflect.MakeMap(f.Type))
		if n.J != nil {
			n.J.owns(m)
		}
	} else if n.J != nil {
		n.J.ownMap(m)
	}
	n.J.saveMapEntry(n, m, mapKey)
	e = reflect.New(f.Type.Elem().Elem())
	if n.J != nil {
		n.J.create(n, e, el)
	}
	e.Elem().Field(kf.Index).Set(kv)
	m.SetMapIndex(mapKey, e)
	return n.child(e.Elem(), f.Elem, el), true, nil
}

// Entries returns the entries of list f: an ordered-by user list's in
// their order, another's sorted by key (numerically for integer keys),
// so that every walk sees the same order.
func (n Node) Entries(f *Field) []Node {
	m := n.V.Field(f.Index)
	if ListLen(m) == 0 {
		return nil
	}
	var keys, vals []reflect.Value
	if f.Ordered {
		keys, vals = OrderedEntries(m)
	} else {
		keys = m.MapKeys()
		SortKeys(keys)
		vals = make([]reflect.Value, len(keys))
		for i, k := range keys {
			vals[i] = m.MapIndex(k)
		}
	}
	out := make([]Node, len(keys))
	var copies map[int]reflect.Value // ordered: the entries copied
	for i, k := range keys {
		out[i] = Node{V: vals[i].Elem(), B: f.Elem}
		if n.J == nil {
			continue
		}
		var e reflect.Value
		if f.Ordered {
			c, copied := n.J.ownStruct(vals[i])
			if copied {
				if copies == nil {
					copies = map[int]reflect.Value{}
				}
				copies[i] = c
			}
			e = c
		} else {
			e = n.ownEntry(f, m, k, vals[i])
		}
		out[i] = n.child(e.Elem(), f.Elem, Elem{Name: f.Name, KeyName: KeyNames(f.Entry)[0], Key: out[i].Key0(f)})
	}
	if copies != nil {
		n.orderedOwn(f, copies)
	}
	return out
}

// ownEntry returns entry e (a pointer) of map field m of n at key k; with
// a journal, the journal's own copy of it, stored in the journal's own
// copy of the map (cow.go).
func (n Node) ownEntry(f *Field, m, k, e reflect.Value) reflect.Value {
	if n.J == nil {
		return e
	}
	c, copied := n.J.ownStruct(e)
	if copied {
		if f.Ordered {
			keys := ListKeys(m)
			n.orderedOwn(f, map[int]reflect.Value{orderedIndex(keys, k): c})
			return c
		}
		n.J.ownMap(m)
		n.J.wrote(m, k)
		m.SetMapIndex(k, c)
	}
	return c
}

// SortKeys sorts list keys: strings lexically, integers numerically.
func SortKeys(keys []reflect.Value) {
	if len(keys) == 0 {
		return
	}
	switch keys[0].Kind() {
	case reflect.String:
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		sort.Slice(keys, func(i, j int) bool { return keys[i].Uint() < keys[j].Uint() })
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		sort.Slice(keys, func(i, j int) bool { return keys[i].Int() < keys[j].Int() })
	}
}

// DeleteEntry removes the entry with key value key from list f.
func (n Node) DeleteEntry(s *Schema, f *Field, key string) (bool, error) {
	kf := &f.Elem.Fields[f.KeyIndex]
	kv, err := s.ParseValue(kf, key)
	if err != nil {
		return false, fmt.Errorf("key %s: %w", kf.Name, err)
	}
	if kv.Kind() == reflect.Pointer {
		kv = kv.Elem()
	}
	m := n.V.Field(f.Index)
	if !ListGet(m, kv).IsValid() {
		return false, nil
	}
	if f.Ordered {
		n.orderedDelete(f, kv)
		return true, nil
	}
	if n.J != nil {
		n.J.ownMap(m)
	}
	n.J.saveMapEntry(n, m, kv)
	m.SetMapIndex(kv, reflect.Value{})
	return true, nil
}

// SetLeaf parses str and stores it in leaf f; for a leaf-list it appends
// str unless already present (a configuration leaf-list holds no
// duplicates, RFC 7950 §7.7).
func (n Node) SetLeaf(s *Schema, f *Field, str string) error {
	v, err := s.ParseValue(f, str)
	if err != nil {
		return err
	}
	fv := n.V.Field(f.Index)
	if f.Kind == KindLeafList {
		for i := 0; i < fv.Len(); i++ {
			if reflect.DeepEqual(fv.Index(i).Interface(), v.Interface()) {
				return nil
			}
		}
		n.J.saveField(n, fv)
		// A fresh array, never the old one's spare capacity: an undo
		// restores the old slice, which must not see the new value.
		out := reflect.MakeSlice(fv.Type(), 0, fv.Len()+1)
		fv.Set(reflect.Append(reflect.AppendSlice(out, fv), v))
		return nil
	}
	n.J.saveField(n, fv)
	fv.Set(v)
	return nil
}

// SetLeafValue stores v, a value ParseValue returned for leaf f (not a
// leaf-list), in leaf f. A tree may hold one such value in many leaves:
// a leaf's value is replaced, never written into.
func (n Node) SetLeafValue(f *Field, v reflect.Value) {
	fv := n.V.Field(f.Index)
	n.J.saveField(n, fv)
	fv.Set(v)
}

// DeleteLeaf clears leaf f, or removes str from leaf-list f (all of it when
// str is empty).
func (n Node) DeleteLeaf(s *Schema, f *Field, str string) error {
	fv := n.V.Field(f.Index)
	n.J.saveField(n, fv)
	if f.Kind == KindLeafList && str != "" {
		v, err := s.ParseValue(f, str)
		if err != nil {
			return err
		}
		out := reflect.MakeSlice(fv.Type(), 0, fv.Len())
		for i := 0; i < fv.Len(); i++ {
			if !reflect.DeepEqual(fv.Index(i).Interface(), v.Interface()) {
				out = reflect.Append(out, fv.Index(i))
			}
		}
		if out.Len() == 0 {
			out = reflect.Zero(fv.Type())
		}
		fv.Set(out)
		return nil
	}
	fv.Set(reflect.Zero(fv.Type()))
	return nil
}

// ClearField removes child f of n, whatever its kind (a container or list
// with its subtree, a leaf, a leaf-list).
func (n Node) ClearField(f *Field) {
	fv := n.V.Field(f.Index)
	if fv.IsZero() {
		return
	}
	n.J.saveField(n, fv)
	fv.Set(reflect.Zero(fv.Type()))
}

// child returns the node below n, carrying n's journal and path.
func (n Node) child(v reflect.Value, b *Binding, e Elem) Node {
	c := Node{V: v, B: b}
	if n.J != nil {
		c.J, c.P = n.J, n.P.Child(e)
	}
	return c
}

// Key0 returns the lexical key of a list entry node of list f.
func (n Node) Key0(f *Field) string {
	str, _ := formatKey(n.V.Field(f.Elem.Fields[f.KeyIndex].Index))
	return str
}

// Leaf returns the lexical value of leaf f, ok false when unset.
func (n Node) Leaf(s *Schema, f *Field) (string, bool) {
	return s.Format(n.V.Field(f.Index))
}

// LeafList returns the lexical values of leaf-list f, in order.
func (n Node) LeafList(s *Schema, f *Field) []string {
	fv := n.V.Field(f.Index)
	out := make([]string, 0, fv.Len())
	for i := 0; i < fv.Len(); i++ {
		if str, ok := s.Format(fv.Index(i)); ok {
			out = append(out, str)
		}
	}
	return out
}

// Has reports whether child f of n exists (a set leaf, a non-empty
// leaf-list or list, an existing container).
func (n Node) Has(f *Field) bool {
	fv := n.V.Field(f.Index)
	if f.Kind == KindList {
		return ListLen(fv) > 0
	}
	switch fv.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !fv.IsNil()
	case reflect.Map, reflect.Slice:
		return fv.Len() > 0
	case reflect.Int64:
		return fv.Int() != 0 // enum: 0 is UNSET
	}
	return !fv.IsZero()
}

// Key returns the lexical key value of a list entry node.
func (n Node) Key(s *Schema, list *Field) string {
	str, _ := s.Format(n.V.Field(list.Elem.Fields[list.KeyIndex].Index))
	return str
}

// Resolve walks path from the root of d and returns the container or list
// entry it names, creating missing nodes when create is set. A path that
// ends at a leaf is an error.
func (s *Schema) Resolve(d *generated.Device, p DataPath, create bool) (Node, bool, error) {
	return s.ResolveFrom(s.RootNode(d), p, create)
}

// ResolveFrom is Resolve starting at node n (which may carry a journal).
func (s *Schema) ResolveFrom(n Node, p DataPath, create bool) (Node, bool, error) {
	for i, e := range p {
		f := n.B.Field(e.Name)
		if f == nil {
			return Node{}, false, fmt.Errorf("schema: %s: no node %q", p[:i], e.Name)
		}
		switch f.Kind {
		case KindContainer:
			c, ok := n.Container(f, create)
			if !ok {
				return Node{}, false, nil
			}
			n = c
		case KindList:
			c, ok, err := n.Entry(s, f, e.Key, create)
			if err != nil {
				return Node{}, false, fmt.Errorf("schema: %s: %w", p[:i+1], err)
			}
			if !ok {
				return Node{}, false, nil
			}
			n = c
		default:
			return Node{}, false, fmt.Errorf("schema: %s: %s is a leaf", p[:i+1], e.Name)
		}
	}
	return n, true, nil
}

// Len returns the number of entries of list f, or of values of leaf-list f.
func (n Node) Len(f *Field) int {
	if f.Kind == KindList {
		return ListLen(n.V.Field(f.Index))
	}
	return n.V.Field(f.Index).Len()
}

// Lookup returns the entry of list f whose key is k (the key's Go value,
// not a pointer), for reading: without n's journal.
func (n Node) Lookup(f *Field, k reflect.Value) (Node, bool) {
	e := ListGet(n.V.Field(f.Index), k)
	if !e.IsValid() {
		return Node{}, false
	}
	return Node{V: e.Elem(), B: f.Elem}, true
}
