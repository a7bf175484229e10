package datastore

import (
	"reflect"

	"secgw/generated"
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
