package schema

import (
	"reflect"
	"sort"
	"strconv"
	"unsafe"

	"secgw/generated"
)

// Journal records the changes made to a tree through journaled Nodes: how
// to undo each, and which nodes were touched. The datastore edits its
// candidate through a journal, so that a failed edit or a discard-changes
// is undone change by change, and a commit diffs only the touched nodes:
// both cost the size of the change, not of the configuration.
//
// A Journal is not safe for concurrent use; the datastore serializes
// edits.
type Journal struct {
	undo []func()
	// touched is keyed by the address of the node's struct: unique while
	// the node exists, and far cheaper than rendering its path per change.
	touched map[uintptr]DataPath
	// replaced holds the paths of containers and list entries that were
	// removed (and maybe created again, by a replace): the node at such
	// a path may be a new one whose whole subtree differs, which the
	// touched set alone does not show (a replace by an empty node
	// touches nothing inside it).
	replaced map[string]DataPath
	// owned holds the nodes this journal may write into (cow.go): for a
	// struct the journal created, the length of undo when it did;
	// copied for a copy of a shared struct, and for a map.
	owned map[unsafe.Pointer]int
	// mark is the last Mark: a struct created after it needs no undo of
	// its fields, the undo of its creation takes it all away.
	mark int
	rec  recycling // recycle.go
	// keys holds, per list of a node that the journal did not create,
	// the keys of the entries added or removed (listKey); nil for a list
	// set or cleared as a whole, whose entries are then all to compare.
	keys map[string]map[string]bool
}

// NewJournal returns an empty journal.
func NewJournal() *Journal {
	return &Journal{touched: map[uintptr]DataPath{}, replaced: map[string]DataPath{}, owned: map[unsafe.Pointer]int{}, keys: map[string]map[string]bool{}}
}

// Replaced returns the paths of the containers and list entries removed
// since the last Reset (see Journal.replaced), sorted.
func (j *Journal) Replaced() []DataPath {
	keys := make([]string, 0, len(j.replaced))
	for k := range j.replaced {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]DataPath, len(keys))
	for i, k := range keys {
		out[i] = j.replaced[k]
	}
	return out
}

// replace records that the child at path p of a node was removed.
func (j *Journal) replace(p DataPath) { j.replaced[p.String()] = p }

// fieldOf returns the field of n whose value is fv, or nil.
func fieldOf(n Node, fv reflect.Value) *Field {
	for i := range n.B.Fields {
		f := &n.B.Fields[i]
		if fv.CanAddr() && n.V.Field(f.Index).Addr().Pointer() == fv.Addr().Pointer() {
			return f
		}
	}
	return nil
}

// JournaledRoot returns the root node of d with journal j. Every change
// made through it copies the nodes it reaches (cow.go): d itself is
// written into, so d must be one the journal owns (Journal.Own) if
// others may read it.
func (s *Schema) JournaledRoot(d *generated.Device, j *Journal) Node {
	n := s.RootNode(d)
	n.J = j
	return n
}

// Mark returns the position to undo back to. Undo is exact back to the
// last mark taken (or to the last Reset): the fields of a node created
// after it are not recorded one by one.
func (j *Journal) Mark() int {
	j.mark = len(j.undo)
	return j.mark
}

// Undo reverts every change made since mark, newest first. The touched set
// keeps its entries: diffing an unchanged node finds nothing.
func (j *Journal) Undo(mark int) {
	for i := len(j.undo) - 1; i >= mark; i-- {
		j.undo[i]()
	}
	j.undo = j.undo[:mark]
}

// Reset forgets everything: the tree as it is becomes the base, and is
// shared (Share).
func (j *Journal) Reset() {
	j.undo = j.undo[:0]
	clear(j.touched)
	clear(j.replaced)
	clear(j.owned)
	clear(j.keys)
	j.mark = 0
	j.dropCopies()
}

// listKey names list f of the node at path p in Journal.keys.
func listKey(p DataPath, f string) string { return p.String() + "\x00" + f }

// ListKeys returns the keys (lexical) of the entries that were added to
// or removed from list f of the node at path p, as far as the journal
// knows them: ok is false when the list was set or cleared as a whole,
// and any entry may differ. A list the journal did not change has none.
func (j *Journal) ListKeys(p DataPath, f string) (keys []string, ok bool) {
	set, found := j.keys[listKey(p, f)]
	if found && set == nil {
		return nil, false
	}
	for k := range set {
		keys = append(keys, k)
	}
	return keys, true
}

// Touched returns the paths of the nodes whose own fields changed (a leaf,
// a leaf-list, a child container or list entry added or removed), sorted so
// that parents come before their children.
func (j *Journal) Touched() []DataPath {
	type entry struct {
		key string
		p   DataPath
	}
	seen := make(map[string]bool, len(j.touched))
	list := make([]entry, 0, len(j.touched))
	for _, p := range j.touched {
		k := p.String()
		if !seen[k] { // a node deleted and created again has two addresses
			seen[k] = true
			list = append(list, entry{k, p})
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].key < list[b].key })
	out := make([]DataPath, len(list))
	for i, e := range list {
		out[i] = e.p
	}
	return out
}

// Len returns the number of recorded changes.
func (j *Journal) Len() int { return len(j.undo) }

func (j *Journal) touch(n Node) {
	k := n.V.Addr().Pointer()
	if _, ok := j.touched[k]; !ok {
		j.touched[k] = n.P
	}
}

// created reports whether the journal created node n since the last
// Share where the tree it started from has none (fresh), and whether
// after the last mark.
func (j *Journal) created(n Node) (created, afterMark bool) {
	pos, ok := j.owned[n.V.Addr().UnsafePointer()]
	created = ok && pos != copied
	return created, created && pos > j.mark
}

// saveField records the current value of field fv of node n. A node the
// journal created lies in a subtree that a commit's diff reports as
// created as a whole (DiffTouched): it is not touched, and after the
// last mark, not recorded at all.
func (j *Journal) saveField(n Node, fv reflect.Value) {
	if j == nil {
		return
	}
	created, afterMark := j.created(n)
	if afterMark {
		return
	}
	if created {
		old := reflect.New(fv.Type()).Elem()
		old.Set(fv)
		j.undo = append(j.undo, func() { fv.Set(old) })
		return
	}
	j.touch(n)
	if fv.Kind() == reflect.Map || fv.Kind() == reflect.Pointer {
		if f := fieldOf(n, fv); f != nil && f.Kind == KindList {
			j.keys[listKey(n.P, f.Name)] = nil // replaced as a whole
		}
	}
	if !fv.IsZero() && (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Map) {
		if f := fieldOf(n, fv); f != nil {
			switch f.Kind {
			case KindContainer:
				j.replace(n.P.Child(Elem{Name: f.Name}))
			case KindList:
				j.replaceEntries(n, f, ListKeys(fv))
			}
		}
	}
	old := reflect.New(fv.Type()).Elem()
	old.Set(fv)
	j.undo = append(j.undo, func() { fv.Set(old) })
}

// saveMapEntry records the current entry (or its absence) at key of map m
// of node n.
func (j *Journal) saveMapEntry(n Node, m, key reflect.Value) {
	if j == nil {
		return
	}
	created, afterMark := j.created(n)
	if afterMark {
		return
	}
	if !created {
		j.touch(n)
	}
	j.wrote(m, key)
	old := m.MapIndex(key)
	if !created {
		if f := fieldOf(n, m); f != nil && f.Kind == KindList {
			if k, ok := formatKey(key); ok {
				if old.IsValid() {
					j.replace(n.P.Child(Elem{Name: f.Name, KeyName: KeyNames(f.Entry)[0], Key: k}))
				}
				lk := listKey(n.P, f.Name)
				set, found := j.keys[lk]
				switch {
				case !found:
					j.keys[lk] = map[string]bool{k: true}
				case set != nil:
					set[k] = true
				}
			}
		}
	}
	j.undo = append(j.undo, func() {
		if old.IsValid() {
			m.SetMapIndex(key, old)
		} else {
			m.SetMapIndex(key, reflect.Value{})
		}
	})
}

// replaceEntries records that the entries at keys of list f of node n
// were removed.
func (j *Journal) replaceEntries(n Node, f *Field, keys []reflect.Value) {
	kn := KeyNames(f.Entry)[0]
	for _, kv := range keys {
		if k, ok := formatKey(kv); ok {
			j.replace(n.P.Child(Elem{Name: f.Name, KeyName: kn, Key: k}))
		}
	}
}

// saveOrdered records the current value of ordered list field fv (list
// f) of node n, before it takes a new ordered map (ordered.go); gone
// are the keys of the entries the change removes. The list's entries are
// then all compared by a commit's diff (ListKeys says so): their order
// may have changed.
func (j *Journal) saveOrdered(n Node, f *Field, fv reflect.Value, gone []reflect.Value) {
	if j == nil {
		return
	}
	created, afterMark := j.created(n)
	if afterMark {
		return
	}
	if !created {
		j.touch(n)
		j.keys[listKey(n.P, f.Name)] = nil
		j.replaceEntries(n, f, gone)
	}
	old := reflect.New(fv.Type()).Elem()
	old.Set(fv)
	j.undo = append(j.undo, func() { fv.Set(old) })
}

// formatKey renders a list key value (strings and integers are the key
// types of the model).
func formatKey(v reflect.Value) (string, bool) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), true
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), true
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	}
	return "", false
}
