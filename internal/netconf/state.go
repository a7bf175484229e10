package netconf

import (
	"reflect"
	"strings"

	"secgw/generated"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// StateFunc returns the operational state of the subsystems as a tree
// that holds only state nodes (and the keys leading to them). <get>
// overlays it on running.
type StateFunc func(r StateRequest) *generated.Device

// StateRequest is what a <get> asks of the state.
type StateRequest struct {
	// Secrets says whether the reader may see secret leaves.
	Secrets bool
	// Wants reports whether the request may select the state node at a
	// schema path below the root ("vrf", "ike", "diagnostics"): a
	// subsystem may leave out what costs to build and nobody asked for.
	// It errs on the side of true (no filter, an xpath filter).
	Wants func(path ...string) bool
}

// wantsAll is StateRequest.Wants without a subtree filter.
func wantsAll(...string) bool { return true }

// subtreeWants is StateRequest.Wants for a subtree filter (RFC 6241
// §6.2): the node at path is selected when a chain of containment nodes
// leads to it or to an ancestor that is a selection node, or to a node
// whose children are content matches only (§6.2.5).
func subtreeWants(f *xmlcodec.Filter) func(path ...string) bool {
	return func(path ...string) bool { return filterSelects(f.Nodes, path) }
}

func filterSelects(nodes []*xmlcodec.FilterNode, path []string) bool {
	if len(path) == 0 {
		return true
	}
	for _, n := range nodes {
		if n.Name != path[0] {
			continue
		}
		if len(n.Children) == 0 {
			if strings.TrimSpace(n.Text) == "" {
				return true // a selection node: everything below it
			}
			continue // a content match: a leaf
		}
		containment := false
		for _, c := range n.Children {
			if len(c.Children) > 0 || strings.TrimSpace(c.Text) == "" {
				containment = true
			}
		}
		if !containment || filterSelects(n.Children, path[1:]) {
			return true
		}
	}
	return false
}

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
		if schema.IsOrderedMap(a.Type()) {
			// An ordered-by user list holds configuration only (the
			// access rules): the configuration's is the list.
			return a
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
