package schema

import (
	"reflect"
	"unsafe"
)

// Recycling the maps of lists. An edit of one entry of a list copies the
// list's map (cow.go): with 100k VPNs, some 5 MB and 2 ms per commit, and
// as much garbage. But the map the copy was made from belongs to the
// previous version of the shared tree, and if no reader was ever handed
// that version, nobody else holds it: brought up to date with the keys
// the copy was written at, it is a second copy, ready for the next edit
// (a spare). Two maps per list then take turns, and a commit costs the
// keys it changed, not the size of its lists.
//
// Which versions readers hold is the caller's to say: Commit gets the
// version the shared tree now is, and the newest version any reader was
// handed. A map born (made part of the shared tree) in a version newer
// than that has been in no reader's hands.

// mapCopy is a map the journal copied from a shared one, with the keys
// written into the copy since.
type mapCopy struct {
	src, dst reflect.Value
	keys     []reflect.Value
}

// recycling is the Journal's bookkeeping of its map copies.
type recycling struct {
	copies map[unsafe.Pointer]*mapCopy      // by the copy
	spare  map[unsafe.Pointer]reflect.Value // by the shared map it equals
	births map[unsafe.Pointer]uint64        // of shared maps the journal made
}

// copiedMap records that the journal made dst, a copy of shared map src
// (or took the spare of src).
func (j *Journal) copiedMap(src, dst reflect.Value) {
	if j.rec.copies == nil {
		j.rec.copies = map[unsafe.Pointer]*mapCopy{}
	}
	j.rec.copies[dst.UnsafePointer()] = &mapCopy{src: src, dst: dst}
}

// wrote records that key k of map m is about to be written.
func (j *Journal) wrote(m, k reflect.Value) {
	if c := j.rec.copies[m.UnsafePointer()]; c != nil {
		c.keys = append(c.keys, k)
	}
}

// takeSpare returns the spare of shared map m, if there is one; the
// caller makes it its copy of m.
func (j *Journal) takeSpare(m reflect.Value) (reflect.Value, bool) {
	s, ok := j.rec.spare[m.UnsafePointer()]
	if ok {
		delete(j.rec.spare, m.UnsafePointer())
	}
	return s, ok
}

// Commit is Share when the tree the journal edited becomes the shared
// one, version version; handedOut is the newest version any reader was
// handed (and will ever be: the caller hands out no older one). Every map
// the journal copied whose source was born after handedOut becomes the
// spare of the copy, brought up to date with it. The other spares are
// dropped: the maps they stand for are no longer the shared ones, or
// unchanged, and keeping them would only hold memory. Then Reset.
func (j *Journal) Commit(version, handedOut uint64) {
	r := &j.rec
	spare := map[unsafe.Pointer]reflect.Value{}
	srcs := map[unsafe.Pointer]int{}
	for _, c := range r.copies {
		srcs[c.src.UnsafePointer()]++
	}
	for p, c := range r.copies {
		sp := c.src.UnsafePointer()
		if b, ok := r.births[sp]; ok && b > handedOut && srcs[sp] == 1 {
			for _, k := range c.keys {
				c.src.SetMapIndex(k, c.dst.MapIndex(k)) // deletes when absent
			}
			spare[p] = c.src
			delete(r.births, sp)
		}
	}
	if r.births == nil {
		r.births = map[unsafe.Pointer]uint64{}
	}
	for p, b := range r.births {
		if b <= handedOut {
			delete(r.births, p)
		}
	}
	for p := range r.copies {
		r.births[p] = version
	}
	r.spare = spare
	r.copies = nil
	j.Reset()
}

// dropCopies forgets the copies made (at Share and Reset): their sources
// are shared still, or held by readers.
func (j *Journal) dropCopies() { j.rec.copies = nil }
