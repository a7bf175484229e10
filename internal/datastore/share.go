package datastore

import (
	"reflect"

	"secgw/internal/schema"
)

// Sharing equal containers. The stored running configuration of a
// concentrator holds, in every VPN, containers that are the same text:
// an ike-policy and an ipsec-policy that only name the VPN's templates, a
// local-ts of one of a few subnets. Decoded as written, each VPN holds its
// own copy of each (at 100k VPNs, over a tenth of the tree). The decoder
// of running hands out one struct for every container decoded from the
// same text, which the tree may hold in many places because nothing
// writes into a node of running:
//
//   - an edit goes through the candidate's journal, which copies every
//     node it steps into before writing (schema's cow.go), so an edit of
//     one VPN's ike-policy writes a copy of it and leaves the other VPNs'
//     struct as it was;
//   - the journal's replay at Open goes through a journal too (replay);
//   - a leaf's value is replaced, never written into
//     (schema.Node.SetLeafValue), and the shared containers hold leaves
//     only (flat): no map of a list, no leaf-list array, no child
//     container that a write could reach through a shallow copy;
//   - the decoder itself writes into a container it decoded before only
//     when a damaged file names it twice; it copies it first
//     (unshareContainer).
//
// TestSharedContainerEditIsolated edits one VPN of a decoded tree and
// checks that the others keep their values.

// maxSharedText bounds the text of a shared container: the containers
// worth sharing are small, and a large one (vrf's ike, holding every VPN)
// must not be kept as a key.
const maxSharedText = 256

// containerSharing is the decoder's table of the containers it handed
// out, by binding and text. The containers that repeat are those of few
// distinct texts (template names, a handful of local subnets), which the
// first VPNs show: each binding keeps the first maxSharedTexts texts it
// meets, and a binding of many distinct texts (a remote-ts per VPN)
// stops adding there, rather than copying every text it decodes.
type containerSharing struct {
	byText map[*schema.Binding]map[string]reflect.Value
}

// maxSharedTexts bounds the texts kept per binding.
const maxSharedTexts = 256

// record records c (a pointer to a flat struct) as the container of
// text for binding b, while b has room.
func (t *containerSharing) record(b *schema.Binding, text []byte, c reflect.Value) {
	m := t.byText[b]
	if m == nil {
		if t.byText == nil {
			t.byText = map[*schema.Binding]map[string]reflect.Value{}
		}
		m = map[string]reflect.Value{}
		t.byText[b] = m
	}
	if len(m) < maxSharedTexts {
		m[string(text)] = c
	}
}

// sharedContainer gives n, which has no container f yet, the one decoded
// before from the same text as the object at the scanner, and moves past
// the object; it reports whether there was one. Nothing is decoded then,
// and no struct made only to be dropped. It leaves the scanner at the
// object (white space skipped) otherwise.
func (sc *scanner) sharedContainer(n schema.Node, f *schema.Field) bool {
	sc.next()
	fv := n.V.Field(f.Index)
	m := sc.containers.byText[f.Elem]
	if len(m) == 0 || !fv.IsNil() {
		return false
	}
	// The object's end, looked for no further than maxSharedText: a
	// larger object is not in the table (vrf's ike is the whole
	// configuration, not to be scanned twice).
	start, all := sc.i, sc.b
	sc.b = sc.b[:min(len(sc.b), start+maxSharedText)]
	err := sc.skip()
	sc.b = all
	if err == nil {
		if c, ok := m[string(sc.b[start:sc.i])]; ok {
			fv.Set(c)
			return true
		}
	}
	sc.i = start
	return false
}

// shareContainer records container f of n, just decoded from text (and
// from nothing else), as the one for text, when it is flat and small.
func (sc *scanner) shareContainer(n schema.Node, f *schema.Field, text []byte) {
	fv := n.V.Field(f.Index)
	if len(text) > maxSharedText || fv.IsNil() || !flat(fv.Elem()) {
		return
	}
	sc.containers.record(f.Elem, text, fv)
}

// unshareContainer gives n a copy of its container f, if it has one,
// before the decoder writes into it: it may be shared. Only a file that
// names a container twice in one object has one. It reports whether n
// had none.
func unshareContainer(n schema.Node, f *schema.Field) (fresh bool) {
	fv := n.V.Field(f.Index)
	if fv.IsNil() {
		return true
	}
	c := reflect.New(fv.Type().Elem())
	c.Elem().Set(fv.Elem())
	fv.Set(c)
	return false
}

// flat reports whether struct v holds leaves only: each field a scalar,
// a pointer to one, or an interface of a scalar (a union), and every
// map, slice and pointer to a struct (a child container, a list, a
// leaf-list) nil. A shallow copy of a flat struct is then a copy of all
// of it.
func flat(v reflect.Value) bool {
	for i := 0; i < v.NumField(); i++ {
		switch fv := v.Field(i); fv.Kind() {
		case reflect.Map, reflect.Slice:
			if !fv.IsNil() {
				return false
			}
		case reflect.Pointer:
			if !fv.IsNil() && !scalar(fv.Type().Elem().Kind()) {
				return false
			}
		case reflect.Interface:
			if !fv.IsNil() && !scalar(fv.Elem().Kind()) {
				return false
			}
		case reflect.Struct, reflect.Array, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return false
		}
	}
	return true
}

// scalar reports whether a value of kind k holds no reference.
func scalar(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}
