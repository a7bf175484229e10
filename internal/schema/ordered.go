package schema

import (
	"fmt"
	"reflect"

	"github.com/openconfig/ygot/ygot"
)

// Lists that are ordered-by user (RFC 7950 §7.7.7). For such a keyed
// list ygot generates an ordered map (a *X_OrderedMap satisfying
// ygot.GoOrderedMap: Keys, Values, Get, Append, Delete, Len) instead of a
// Go map; its fields are unexported, so it is read and written through
// those methods only. The functions of this file are the one place that
// knows both representations: every reflective walk of a list (Entries,
// Entry, DeleteEntry, MoveEntry, the datastore's clone and diff) goes
// through them.
//
// An ordered map is written in place only when nobody else can hold it:
// without a journal (a tree being built), or under a journal when the map
// is the journal's own and its node was created after the last mark (no
// undo needed). Any other change builds a new map (copy on write, as
// cow.go does for Go maps), which the parent's field takes and whose undo
// restores the old one. Ordered-by user lists are short (access rules):
// a copy costs their length, which is small.

var goOrderedMap = reflect.TypeFor[ygot.GoOrderedMap]()

// IsOrderedMap reports whether t is a ygot ordered map type (a pointer to
// the generated struct).
func IsOrderedMap(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer && t.Implements(goOrderedMap)
}

// Position says where MoveEntry puts an entry (RFC 7950 §7.8.6, the
// values of the insert attribute).
type Position uint8

// The positions of the insert attribute.
const (
	Last   Position = iota // at the end (the default for a new entry)
	First                  // at the beginning
	Before                 // just before the anchor entry
	After                  // just after the anchor entry
)

// ParsePosition maps an insert attribute value to its Position.
func ParsePosition(s string) (Position, bool) {
	switch s {
	case "first":
		return First, true
	case "last":
		return Last, true
	case "before":
		return Before, true
	case "after":
		return After, true
	}
	return 0, false
}

// ListLen returns the number of entries of list value fv (a Go map or an
// ordered map, nil allowed).
func ListLen(fv reflect.Value) int {
	if fv.Kind() == reflect.Map {
		return fv.Len()
	}
	if fv.IsNil() {
		return 0
	}
	return call(fv, "Len")[0].Interface().(int)
}

// ListGet returns the entry (a pointer) at key k of list value fv, or
// the zero Value when there is none. k is the key's Go value (not a
// pointer).
func ListGet(fv, k reflect.Value) reflect.Value {
	if fv.Kind() == reflect.Map {
		if fv.IsNil() {
			return reflect.Value{}
		}
		return fv.MapIndex(k)
	}
	if fv.IsNil() {
		return reflect.Value{}
	}
	e := call(fv, "Get", k)[0]
	if e.IsNil() {
		return reflect.Value{}
	}
	return e
}

// ListKeys returns the keys of list value fv: an ordered map's in their
// order, a Go map's in no particular order.
func ListKeys(fv reflect.Value) []reflect.Value {
	if fv.Kind() == reflect.Map {
		return fv.MapKeys()
	}
	if fv.IsNil() {
		return nil
	}
	ks := call(fv, "Keys")[0]
	out := make([]reflect.Value, ks.Len())
	for i := range out {
		out[i] = ks.Index(i)
	}
	return out
}

// OrderedEntries returns the keys and the entries (pointers) of ordered
// map v, in order.
func OrderedEntries(v reflect.Value) (keys, entries []reflect.Value) {
	keys = ListKeys(v)
	entries = make([]reflect.Value, len(keys))
	for i, k := range keys {
		entries[i] = ListGet(v, k)
	}
	return keys, entries
}

// NewOrdered returns a new ordered map of type t (the pointer type)
// holding entries in order; each entry carries its key.
func NewOrdered(t reflect.Type, entries []reflect.Value) reflect.Value {
	m := reflect.New(t.Elem())
	for _, e := range entries {
		if err := call(m, "Append", e)[0]; !err.IsNil() {
			// A duplicate or missing key: the caller built entries from
			// a list, which has neither.
			panic(fmt.Sprintf("schema: ordered map %s: %v", t, err.Interface()))
		}
	}
	return m
}

// call calls method name of v with args.
func call(v reflect.Value, name string, args ...reflect.Value) []reflect.Value {
	return v.MethodByName(name).Call(args)
}

// orderedIndex returns the position of key k in keys, or -1.
func orderedIndex(keys []reflect.Value, k reflect.Value) int {
	for i, x := range keys {
		if x.Equal(k) {
			return i
		}
	}
	return -1
}

// inPlace reports whether ordered map fv of node n may be written in
// place (see the file's comment).
func (n Node) inPlace(fv reflect.Value) bool {
	if n.J == nil {
		return true
	}
	if fv.IsNil() {
		return false
	}
	if _, owned := n.J.owned[fv.UnsafePointer()]; !owned {
		return false
	}
	_, afterMark := n.J.created(n)
	return afterMark
}

// setOrdered makes entries, in order, the content of ordered list f of
// n: a new ordered map, recorded in n's journal; gone names the keys
// whose entries are removed (or replaced by other ones).
func (n Node) setOrdered(f *Field, entries []reflect.Value, gone []reflect.Value) {
	fv := n.V.Field(f.Index)
	n.J.saveOrdered(n, f, fv, gone)
	m := NewOrdered(f.Type, entries)
	if n.J != nil {
		n.J.owns(m)
	}
	fv.Set(m)
}

// orderedAppend adds entry e (its key set) at the end of ordered list f.
func (n Node) orderedAppend(f *Field, e reflect.Value) {
	fv := n.V.Field(f.Index)
	if !fv.IsNil() && n.inPlace(fv) {
		if err := call(fv, "Append", e)[0]; !err.IsNil() {
			panic(fmt.Sprintf("schema: %s: %v", f.Name, err.Interface()))
		}
		return
	}
	_, entries := OrderedEntries(fv)
	n.setOrdered(f, append(entries, e), nil)
}

// orderedDelete removes the entry at key k from ordered list f.
func (n Node) orderedDelete(f *Field, k reflect.Value) {
	fv := n.V.Field(f.Index)
	if n.inPlace(fv) {
		call(fv, "Delete", k)
		return
	}
	keys, entries := OrderedEntries(fv)
	i := orderedIndex(keys, k)
	if i < 0 {
		return
	}
	n.setOrdered(f, append(entries[:i:i], entries[i+1:]...), []reflect.Value{k})
}

// orderedOwn stores, without a record in the journal, the journal's own
// copies of entries at the positions of copies (index → copy): the list
// holds the same configuration, in the journal's own nodes. The new
// ordered map is the journal's own too.
func (n Node) orderedOwn(f *Field, copies map[int]reflect.Value) {
	fv := n.V.Field(f.Index)
	_, entries := OrderedEntries(fv)
	for i, c := range copies {
		entries[i] = c
	}
	m := NewOrdered(f.Type, entries)
	n.J.owns(m)
	fv.Set(m)
}

// MoveEntry moves the existing entry with key value key of ordered-by
// user list f to position pos; for Before and After, next to the entry
// whose key is anchor (RFC 7950 §7.8.6). ok is false when the entry or
// the anchor does not exist; an error says a key does not parse, or
// that f is not ordered-by user.
func (n Node) MoveEntry(s *Schema, f *Field, key string, pos Position, anchor string) (ok bool, err error) {
	if !f.Ordered {
		return false, fmt.Errorf("%s is not ordered-by user", f.Name)
	}
	kf := &f.Elem.Fields[f.KeyIndex]
	k, err := s.parseKey(kf, key)
	if err != nil {
		return false, err
	}
	var a reflect.Value
	if pos == Before || pos == After {
		if a, err = s.parseKey(kf, anchor); err != nil {
			return false, err
		}
	}
	fv := n.V.Field(f.Index)
	keys, entries := OrderedEntries(fv)
	i := orderedIndex(keys, k)
	if i < 0 {
		return false, nil
	}
	e := entries[i]
	rest := append(entries[:i:i], entries[i+1:]...)
	restKeys := append(keys[:i:i], keys[i+1:]...)
	at := len(rest)
	switch pos {
	case First:
		at = 0
	case Before, After:
		if a.Equal(k) {
			return true, nil // next to itself: where it is
		}
		at = orderedIndex(restKeys, a)
		if at < 0 {
			return false, nil
		}
		if pos == After {
			at++
		}
	}
	if at == i {
		return true, nil // already there
	}
	out := make([]reflect.Value, 0, len(entries))
	out = append(append(append(out, rest[:at]...), e), rest[at:]...)
	n.setOrdered(f, out, nil)
	return true, nil
}

// MoveValue moves value str of ordered-by user leaf-list f, which holds
// it, to position pos; for Before and After, next to value anchor (RFC
// 7950 §7.7.9). ok is false when the value or the anchor is not in the
// leaf-list; an error says one does not parse, or that f is not an
// ordered-by user leaf-list.
func (n Node) MoveValue(s *Schema, f *Field, str string, pos Position, anchor string) (ok bool, err error) {
	if f.Kind != KindLeafList || !f.Ordered {
		return false, fmt.Errorf("%s is not an ordered-by user leaf-list", f.Name)
	}
	v, err := s.ParseValue(f, str)
	if err != nil {
		return false, err
	}
	var a reflect.Value
	if pos == Before || pos == After {
		if a, err = s.ParseValue(f, anchor); err != nil {
			return false, err
		}
	}
	fv := n.V.Field(f.Index)
	index := func(vals []reflect.Value, x reflect.Value) int {
		for i, y := range vals {
			if reflect.DeepEqual(y.Interface(), x.Interface()) {
				return i
			}
		}
		return -1
	}
	vals := make([]reflect.Value, fv.Len())
	for i := range vals {
		vals[i] = fv.Index(i)
	}
	i := index(vals, v)
	if i < 0 {
		return false, nil
	}
	e := vals[i]
	rest := append(vals[:i:i], vals[i+1:]...)
	at := len(rest)
	switch pos {
	case First:
		at = 0
	case Before, After:
		if reflect.DeepEqual(a.Interface(), v.Interface()) {
			return true, nil // next to itself: where it is
		}
		if at = index(rest, a); at < 0 {
			return false, nil
		}
		if pos == After {
			at++
		}
	}
	if at == i {
		return true, nil
	}
	// A fresh slice: an undo restores the old one, which must not change.
	out := reflect.MakeSlice(fv.Type(), 0, len(vals))
	for _, x := range rest[:at] {
		out = reflect.Append(out, x)
	}
	out = reflect.Append(out, e)
	for _, x := range rest[at:] {
		out = reflect.Append(out, x)
	}
	n.J.saveField(n, fv)
	fv.Set(out)
	return true, nil
}

// Order returns the keys (lexical) of the entries of list f in the order
// Entries walks them.
func (n Node) Order(f *Field) []string {
	entries := n.Entries(f)
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Key0(f)
	}
	return out
}

// Reorder puts the entries of ordered-by user list f whose keys are in
// order first, in that order, and the others after them, in their
// order; keys that name no entry are passed over. The datastore's
// journal replays a committed reorder with it.
func (n Node) Reorder(s *Schema, f *Field, order []string) error {
	if !f.Ordered {
		return fmt.Errorf("schema: %s is not ordered-by user", f.Name)
	}
	kf := &f.Elem.Fields[f.KeyIndex]
	fv := n.V.Field(f.Index)
	keys, entries := OrderedEntries(fv)
	used := make([]bool, len(keys))
	out := make([]reflect.Value, 0, len(entries))
	for _, ks := range order {
		k, err := s.parseKey(kf, ks)
		if err != nil {
			return fmt.Errorf("schema: %s: %w", f.Name, err)
		}
		if i := orderedIndex(keys, k); i >= 0 && !used[i] {
			used[i] = true
			out = append(out, entries[i])
		}
	}
	for i, e := range entries {
		if !used[i] {
			out = append(out, e)
		}
	}
	same := true
	for i := range out {
		if out[i].Pointer() != entries[i].Pointer() {
			same = false
			break
		}
	}
	if !same {
		n.setOrdered(f, out, nil)
	}
	return nil
}

// parseKey parses the lexical key value str of key leaf kf into the Go
// value the list is keyed by.
func (s *Schema) parseKey(kf *Field, str string) (reflect.Value, error) {
	kv, err := s.ParseValue(kf, str)
	if err != nil {
		return reflect.Value{}, fmt.Errorf("key %s: %w", kf.Name, err)
	}
	if kv.Kind() == reflect.Pointer {
		kv = kv.Elem()
	}
	return kv, nil
}

// Moved returns the keys present in both orders old and new whose place
// among them changed: those outside a longest common subsequence of the
// two, the fewest moves that turn old into new. Keys are distinct.
// Patience sorting, O(n log n).
func Moved(old, new []string) map[string]bool {
	at := make(map[string]int, len(new))
	for j, k := range new {
		at[k] = j
	}
	var seq []int // positions in new of the keys of old kept, in old's order
	for _, k := range old {
		if j, ok := at[k]; ok {
			seq = append(seq, j)
		}
	}
	tails := []int{}              // tails[l]: index in seq of the smallest tail of a run of length l+1
	prev := make([]int, len(seq)) // the predecessor of seq[i] in its run
	for i, v := range seq {
		lo, hi := 0, len(tails)
		for lo < hi {
			mid := (lo + hi) / 2
			if seq[tails[mid]] < v {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		prev[i] = -1
		if lo > 0 {
			prev[i] = tails[lo-1]
		}
		if lo == len(tails) {
			tails = append(tails, i)
		} else {
			tails[lo] = i
		}
	}
	stay := make(map[int]bool, len(tails))
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			stay[seq[i]] = true
		}
	}
	out := map[string]bool{}
	for _, j := range seq {
		if !stay[j] {
			out[new[j]] = true
		}
	}
	return out
}
