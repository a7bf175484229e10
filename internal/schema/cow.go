package schema

import (
	"maps"
	"reflect"
	"unsafe"

	"secgw/generated"
)

// Copy on write. A tree edited through a Journal may share its nodes with
// other trees (the datastore's running configuration, the snapshots that
// readers hold): those trees are immutable, and a journaled edit never
// writes into a node it does not own. Every step down from a journaled
// node (Container, Entry, Entries) makes the child the journal's own
// first: a shallow copy of the struct, stored in the parent (which is
// owned already) in place of the shared one, and for a list entry a copy
// of the list's map. An edit therefore copies the path from the root to
// what it changes, and the maps on that path, never the rest of the tree.
//
// The owned set holds the structs and maps this journal allocated or
// copied since the last Share (or Reset). It keeps them reachable, so that
// an address in it never names a shared node that took the place of a
// freed one.

// Own returns d itself if the journal owns it, else a shallow copy of it
// that the journal owns: the root to edit through JournaledRoot. The
// caller keeps the returned tree as the one it edits.
func (j *Journal) Own(d *generated.Device) *generated.Device {
	if _, ok := j.owned[unsafe.Pointer(d)]; ok {
		return d
	}
	c := new(generated.Device)
	*c = *d
	j.owned[unsafe.Pointer(c)] = copied
	return c
}

// Share gives up the ownership of every node: the tree as it is may now
// be read by others, who keep it, and the next edit copies what it
// reaches. The recorded changes stay (Undo is only safe back to a mark
// taken after the last Share: before, it would write into shared nodes).
func (j *Journal) Share() {
	clear(j.owned)
	j.dropCopies()
}

// ownStruct makes the struct that pointer field (or map value) p points
// to the journal's own, and returns the owned pointer: p itself, or a
// shallow copy of its struct.
func (j *Journal) ownStruct(p reflect.Value) (reflect.Value, bool) {
	if _, ok := j.owned[p.UnsafePointer()]; ok {
		return p, false
	}
	c := reflect.New(p.Type().Elem())
	c.Elem().Set(p.Elem())
	j.owned[c.UnsafePointer()] = copied
	return c, true
}

// ownMap makes map field fv of an owned node the journal's own, copying
// it if it is shared; a nil map stays nil.
func (j *Journal) ownMap(fv reflect.Value) {
	if fv.IsNil() {
		return
	}
	if _, ok := j.owned[fv.UnsafePointer()]; ok {
		return
	}
	src := reflect.ValueOf(fv.Interface())
	c, ok := j.takeSpare(src)
	if !ok {
		c = cloneMap(src)
	}
	j.copiedMap(src, c)
	fv.Set(c)
	j.owned[c.UnsafePointer()] = copied
}

// copied is the owned value of a copy of a shared struct, and of a map.
const copied = -1

// owns records a map the journal made.
func (j *Journal) owns(m reflect.Value) { j.owned[m.UnsafePointer()] = copied }

// create records struct p (a pointer) that the journal made at step e
// below parent, after the undo records that take it away again. If no
// node is at its path in the tree the journal started from (fresh), it
// is recorded as created: its subtree is all new, and a commit's diff
// reports it as one creation (see saveField).
func (j *Journal) create(parent Node, p reflect.Value, e Elem) {
	pos := copied
	if j.fresh(parent, e) {
		pos = len(j.undo)
	}
	j.owned[p.UnsafePointer()] = pos
}

// fresh reports whether the tree the journal started from has no node at
// step e below parent: parent itself is new there, or nothing on the path
// was removed by the journal (which alone can have made the path free).
func (j *Journal) fresh(parent Node, e Elem) bool {
	if created, _ := j.created(parent); created || len(j.replaced) == 0 {
		return true
	}
	p := parent.P.Child(e)
	for i := 1; i <= len(p); i++ {
		if _, ok := j.replaced[p[:i].String()]; ok {
			return false
		}
	}
	return true
}

// cloneMap returns a copy of map m (pointer values shared). The maps of
// the largest lists go through maps.Clone, which copies the table as it
// is instead of inserting every entry again; maps.Clone is generic, so
// this names their types.
func cloneMap(m reflect.Value) reflect.Value {
	switch x := m.Interface().(type) {
	case map[string]*generated.SecgwVrf_Vrf_Ike_Vpn:
		return reflect.ValueOf(maps.Clone(x))
	case map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy:
		return reflect.ValueOf(maps.Clone(x))
	}
	c := reflect.MakeMapWithSize(m.Type(), m.Len())
	for it := m.MapRange(); it.Next(); {
		c.SetMapIndex(it.Key(), it.Value())
	}
	return c
}
