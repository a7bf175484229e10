package schema

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"secgw/generated"
)

// FieldKind says how a YANG node is represented in a generated struct.
type FieldKind uint8

// The kinds of fields of generated structs (ygot, uncompressed paths).
const (
	KindLeaf      FieldKind = iota // *T scalar, enum (int64 type) or union interface
	KindLeafList                   // []T
	KindContainer                  // *Struct
	KindList                       // map[Key]*Struct, or an ordered map (Field.Ordered); single key
)

// Field binds one YANG child node to one field of a generated struct.
type Field struct {
	Name  string      // YANG node name
	Index int         // index of the Go field in its struct
	Kind  FieldKind   // representation
	Entry *yang.Entry // schema node
	Type  reflect.Type
	// Elem is the binding of the container, or of the list entry struct.
	Elem *Binding
	// KeyIndex is, for a list, the index of the key leaf in Elem.Fields.
	KeyIndex int
	// Secret is set for nodes with the secgw-types:secret extension.
	Secret bool
	// Config is false for state nodes (config false).
	Config bool
	// Ordered is set for a list or leaf-list that is ordered-by user
	// (RFC 7950 §7.7.7): a list is then a ygot ordered map, kept in the
	// operator's order (ordered.go), not a Go map walked in key order.
	Ordered bool

	enums []reflect.Type // enum Go types a leaf or union member may take
}

// Binding describes one generated struct type: its schema node and its
// fields, sorted by YANG name (list keys first).
type Binding struct {
	Type   reflect.Type // the struct type, not a pointer
	Entry  *yang.Entry
	Fields []Field
	byName map[string]int
}

// Field returns the field for the YANG child name, or nil.
func (b *Binding) Field(name string) *Field {
	if i, ok := b.byName[name]; ok {
		return &b.Fields[i]
	}
	return nil
}

type binder struct {
	root  *Binding
	types map[reflect.Type]*Binding
	// enumNames maps an enum Go type to its names indexed by value.
	enumNames map[reflect.Type][]string
	// enumValues maps an enum Go type to its values by name.
	enumValues map[reflect.Type]map[string]int64
}

func newBinder(root *yang.Entry) (*binder, error) {
	b := &binder{
		types:      map[reflect.Type]*Binding{},
		enumNames:  map[reflect.Type][]string{},
		enumValues: map[reflect.Type]map[string]int64{},
	}
	rb, err := b.bind(reflect.TypeOf(generated.Device{}), root)
	if err != nil {
		return nil, err
	}
	b.root = rb
	return b, nil
}

// RootBinding returns the binding of generated.Device, the top of the tree.
func (s *Schema) RootBinding() *Binding { return s.binding.root }

// BindingOf returns the binding of a generated struct type (or pointer to
// it), or nil.
func (s *Schema) BindingOf(t reflect.Type) *Binding {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return s.binding.types[t]
}

func (b *binder) bind(t reflect.Type, e *yang.Entry) (*Binding, error) {
	if bd, ok := b.types[t]; ok {
		return bd, nil
	}
	bd := &Binding{Type: t, Entry: e, byName: map[string]int{}}
	b.types[t] = bd
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, ok := sf.Tag.Lookup("path")
		if !ok {
			continue
		}
		ce := Child(e, name)
		if ce == nil {
			return nil, fmt.Errorf("schema: %s: field %s: no schema node %q", Path(e), sf.Name, name)
		}
		f := Field{Name: name, Index: i, Entry: ce, Type: sf.Type, Secret: IsSecret(ce), Config: IsConfig(ce)}
		switch {
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct && !IsOrderedMap(sf.Type):
			f.Kind = KindContainer
			eb, err := b.bind(sf.Type.Elem(), ce)
			if err != nil {
				return nil, err
			}
			f.Elem = eb
		case sf.Type.Kind() == reflect.Map || IsOrderedMap(sf.Type):
			f.Kind = KindList
			f.Ordered = sf.Type.Kind() != reflect.Map
			keys := KeyNames(ce)
			if len(keys) != 1 {
				return nil, fmt.Errorf("schema: %s: only single-key lists are supported", Path(ce))
			}
			var et reflect.Type // the entry struct
			if f.Ordered {
				et = sf.Type.Method(mustMethod(sf.Type, "Get")).Type.Out(0).Elem()
			} else {
				et = sf.Type.Elem().Elem() // map[K]*Entry
			}
			eb, err := b.bind(et, ce)
			if err != nil {
				return nil, err
			}
			f.Elem = eb
			kf := eb.Field(keys[0])
			if kf == nil {
				return nil, fmt.Errorf("schema: %s: key %s has no field", Path(ce), keys[0])
			}
			f.KeyIndex = eb.byName[keys[0]]
		case sf.Type.Kind() == reflect.Slice && sf.Type != reflect.TypeOf(generated.Binary(nil)):
			f.Kind = KindLeafList
			f.Ordered = ce.ListAttr != nil && ce.ListAttr.OrderedByUser
		default:
			f.Kind = KindLeaf
		}
		if f.Kind == KindLeaf || f.Kind == KindLeafList {
			f.enums = generated.ΛEnumTypes[Path(ce)]
			for _, et := range f.enums {
				b.addEnum(et)
			}
		}
		bd.Fields = append(bd.Fields, f)
	}
	keys := KeyNames(e)
	rank := func(n string) int {
		for i, k := range keys {
			if k == n {
				return i
			}
		}
		return len(keys)
	}
	sort.SliceStable(bd.Fields, func(i, j int) bool {
		ri, rj := rank(bd.Fields[i].Name), rank(bd.Fields[j].Name)
		if ri != rj {
			return ri < rj
		}
		return bd.Fields[i].Name < bd.Fields[j].Name
	})
	for i, f := range bd.Fields {
		bd.byName[f.Name] = i
	}
	// The key index was computed before sorting the entry's own fields; the
	// entry binding is complete (and sorted) by the time its parent asks.
	for i := range bd.Fields {
		f := &bd.Fields[i]
		if f.Kind == KindList {
			f.KeyIndex = f.Elem.byName[KeyNames(f.Entry)[0]]
		}
	}
	return bd, nil
}

// mustMethod returns the index of method name of t; the generated
// ordered maps all have it.
func mustMethod(t reflect.Type, name string) int {
	m, ok := t.MethodByName(name)
	if !ok {
		panic(fmt.Sprintf("schema: %s has no method %s", t, name))
	}
	return m.Index
}

func (b *binder) addEnum(t reflect.Type) {
	if _, ok := b.enumNames[t]; ok {
		return
	}
	v, ok := reflect.Zero(t).Interface().(ygot.GoEnum)
	if !ok {
		return
	}
	defs := v.ΛMap()[t.Name()]
	var max int64
	for k := range defs {
		if k > max {
			max = k
		}
	}
	names := make([]string, max+1)
	values := make(map[string]int64, len(defs))
	for k, d := range defs {
		names[k] = d.Name
		values[d.Name] = k
	}
	b.enumNames[t] = names
	b.enumValues[t] = values
}

// Index returns the position in Fields of the YANG child name.
func (b *Binding) Index(name string) (int, bool) {
	i, ok := b.byName[name]
	return i, ok
}
