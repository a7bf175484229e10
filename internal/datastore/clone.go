package datastore

import (
	"reflect"
	"strings"

	"secgw/generated"
	"secgw/internal/schema"
)

// Clone returns a deep copy of a configuration tree. Generated structs hold
// only pointers, maps, slices, interfaces of scalar wrappers and scalars,
// which is all this copies; it is several times faster than ygot.DeepCopy,
// which goes through the schema.
func Clone(d *generated.Device) *generated.Device {
	if d == nil {
		return nil
	}
	return clone(reflect.ValueOf(d)).Interface().(*generated.Device)
}

func clone(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		if isOrdered(v.Type()) {
			_, entries := schema.OrderedEntries(v)
			for i, e := range entries {
				entries[i] = clone(e)
			}
			return schema.NewOrdered(v.Type(), entries)
		}
		out := reflect.New(v.Type().Elem())
		if v.Elem().Kind() == reflect.Struct {
			copyStruct(out.Elem(), v.Elem())
		} else {
			out.Elem().Set(v.Elem())
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			out.SetMapIndex(it.Key(), clone(it.Value()))
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(out, v) // elements of leaf-lists are scalars
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		copyStruct(out, v)
		return out
	}
	// Scalars, enums, and union interfaces holding scalar wrappers are
	// values: copying the interface copies them.
	return v
}

// isOrdered reports whether pointer type t is a ygot ordered map (an
// ordered-by user list, schema.IsOrderedMap). ygot names those types
// X_OrderedMap, structs of two fields: the tests of the field count and
// the name, which allocate nothing, are those a walk of a whole tree
// can afford at every pointer.
func isOrdered(t reflect.Type) bool {
	e := t.Elem()
	return e.Kind() == reflect.Struct && e.NumField() == 2 && strings.HasSuffix(e.Name(), "_OrderedMap") && schema.IsOrderedMap(t)
}

func copyStruct(dst, src reflect.Value) {
	for i := 0; i < src.NumField(); i++ {
		f := src.Field(i)
		switch f.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Struct:
			dst.Field(i).Set(clone(f))
		default:
			dst.Field(i).Set(f)
		}
	}
}

// equal reports whether two values of a generated type hold the same
// configuration. It is reflect.DeepEqual without the cycle bookkeeping
// (generated trees have no cycles) and with a shortcut for shared
// pointers, which makes Diff several times faster.
func equal(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Pointer() == b.Pointer() {
			return true
		}
		if isOrdered(a.Type()) {
			ka, ea := schema.OrderedEntries(a)
			kb, eb := schema.OrderedEntries(b)
			if len(ka) != len(kb) {
				return false
			}
			for i := range ka {
				if !ka[i].Equal(kb[i]) || !equal(ea[i], eb[i]) {
					return false
				}
			}
			return true
		}
		return equal(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		if a.Pointer() == b.Pointer() {
			return true
		}
		it := a.MapRange()
		for it.Next() {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !equal(it.Value(), bv) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return a.Elem().Type() == b.Elem().Type() && equal(a.Elem(), b.Elem())
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return a.Int() == b.Int()
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return a.Uint() == b.Uint()
	case reflect.Float64, reflect.Float32:
		return a.Float() == b.Float()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
