package netconf

import (
	"reflect"

	"secgw/generated"
)

// StateFunc returns the operational state of the subsystems as a tree
// that holds only state nodes (and the keys leading to them); secrets says
// whether the reader may see secret leaves. <get> overlays it on running.
type StateFunc func(secrets bool) *generated.Device

// overlay returns a tree that reads as running with the nodes of state
// added. running is not modified and most of it is shared: only the
// structs and maps on the paths to state nodes are copied, so a <get> on a
// large configuration costs what the state costs.
func overlay(running, state *generated.Device) *generated.Device {
	if state == nil {
		return running
	}
	out := merge(reflect.ValueOf(running), reflect.ValueOf(state))
	return out.Interface().(*generated.Device)
}

// merge combines two values of the same pointer-to-struct or map type;
// set fields of b win, except that structs and maps present on both sides
// are merged.
func merge(a, b reflect.Value) reflect.Value {
	switch {
	case !b.IsValid() || b.IsZero():
		return a
	case !a.IsValid() || a.IsZero():
		return b
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.Elem().Kind() != reflect.Struct {
			return b
		}
		cp := reflect.New(a.Elem().Type())
		cp.Elem().Set(a.Elem())
		for i := range cp.Elem().NumField() {
			f := cp.Elem().Field(i)
			if !f.CanSet() {
				continue
			}
			if bf := b.Elem().Field(i); !bf.IsZero() {
				f.Set(merge(f, bf))
			}
		}
		return cp
	case reflect.Map:
		cp := reflect.MakeMapWithSize(a.Type(), a.Len())
		it := a.MapRange()
		for it.Next() {
			cp.SetMapIndex(it.Key(), it.Value())
		}
		it = b.MapRange()
		for it.Next() {
			cp.SetMapIndex(it.Key(), merge(a.MapIndex(it.Key()), it.Value()))
		}
		return cp
	}
	return b
}
