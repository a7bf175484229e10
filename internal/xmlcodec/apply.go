package xmlcodec

import (
	"secgw/generated"
	"secgw/internal/schema"
)

// Apply carries out edits on tree d as <edit-config> does (RFC 6241 §7.2),
// in order, with defaultOp ("merge", "replace" or "none"; empty is merge)
// for the edits without an operation:
//
//   - merge creates what is missing and sets the leaves given;
//   - replace replaces the node and its subtree (for a leaf-list value,
//     adds the value), creating it when missing;
//   - create is a data-exists error when the node exists;
//   - delete is a data-missing error when it does not; remove is not;
//     both skip the edits inside the node they remove;
//   - with default-operation none, an edit without operation only
//     navigates: a container or entry that does not exist is a
//     data-missing error, unless an edit inside it creates something
//     (merge, replace, create, which build their ancestors) or only
//     removes; a leaf without operation changes nothing. Default-operation
//     replace replaces the whole configuration: d's configuration is
//     cleared first, then the edits merge into it.
//
// Apply stops at the first error, leaving the edits before it applied:
// the datastore applies edits to a copy (candidate) and drops it for
// rollback-on-error. Keys cannot be changed. A new entry of an
// ordered-by user list goes last, an existing one (even replaced) stays
// where it is, unless the edit's insert attribute places it (RFC 7950
// §7.8.6; ignored by delete and remove); so do the values of an
// ordered-by user leaf-list (§7.7.9).
func Apply(s *schema.Schema, d *generated.Device, edits []Edit, defaultOp Operation) error {
	return ApplyNode(s, s.RootNode(d), edits, defaultOp)
}

// ApplyNode is Apply on the tree of root, which may carry a journal that
// records the changes (schema.Journal).
func ApplyNode(s *schema.Schema, root schema.Node, edits []Edit, defaultOp Operation) error {
	switch defaultOp {
	case "":
		defaultOp = OpMerge
	case OpMerge, OpNone:
	case OpReplace:
		for i := range root.B.Fields {
			if f := &root.B.Fields[i]; f.Config {
				root.ClearField(f)
			}
		}
		defaultOp = OpMerge
	default:
		return newError(typeProt, "invalid-value", "", "default-operation %q is not one of merge, replace, none", defaultOp).WithInfo("bad-element", "default-operation")
	}
	a := &applier{s: s, root: root}
	for i := 0; i < len(edits); i++ {
		skip, err := a.apply(edits, i, defaultOp)
		if err != nil {
			return err
		}
		if skip {
			i = subtreeEnd(edits, i) - 1
		}
	}
	return nil
}

// subtreeEnd returns the index after the edits that follow edits[i] and
// lie inside its node.
func subtreeEnd(edits []Edit, i int) int {
	p := edits[i].Path
	j := i + 1
	for ; j < len(edits); j++ {
		q := edits[j].Path
		if len(q) <= len(p) || !hasPrefix(q, p) {
			break
		}
	}
	return j
}

func hasPrefix(p, prefix schema.DataPath) bool {
	for i := range prefix {
		if p[i] != prefix[i] {
			return false
		}
	}
	return true
}

// applier resolves paths with a cursor: consecutive edits share most of
// their path, so the nodes of the previous path are reused.
type applier struct {
	s     *schema.Schema
	root  schema.Node
	path  schema.DataPath // the containers and entries resolved last
	nodes []schema.Node   // nodes[i] is the node at path[:i+1]
}

// resolve returns the container or entry at p, creating what is missing
// when create is set.
func (a *applier) resolve(p schema.DataPath, create bool) (schema.Node, bool, error) {
	k := 0
	for k < len(p) && k < len(a.path) && p[k] == a.path[k] {
		k++
	}
	a.path, a.nodes = a.path[:k], a.nodes[:k]
	n := a.root
	if k > 0 {
		n = a.nodes[k-1]
	}
	for _, el := range p[k:] {
		f := n.B.Field(el.Name)
		if f == nil {
			return schema.Node{}, false, newError(typeApp, "unknown-element", a.path.Child(el).String(), "unknown node %q in %s", el.Name, a.path).WithInfo("bad-element", el.Name)
		}
		var c schema.Node
		var ok bool
		switch f.Kind {
		case schema.KindContainer:
			c, ok = n.Container(f, create)
		case schema.KindList:
			var err error
			if c, ok, err = n.Entry(a.s, f, el.Key, create); err != nil {
				return schema.Node{}, false, newError(typeApp, "invalid-value", a.path.Child(el).String(), "invalid key in %s: %v", a.path.Child(el), err).WithInfo("bad-element", el.KeyName)
			}
		default:
			return schema.Node{}, false, newError(typeApp, "bad-element", a.path.Child(el).String(), "%s is a leaf, not a container or list", a.path.Child(el)).WithInfo("bad-element", el.Name)
		}
		if !ok {
			return schema.Node{}, false, nil
		}
		a.path = append(a.path, el)
		a.nodes = append(a.nodes, c)
		n = c
	}
	return n, true, nil
}

// forget drops the cursor's nodes from depth i on, after the node there
// was replaced or removed.
func (a *applier) forget(i int) {
	if i < len(a.path) {
		a.path, a.nodes = a.path[:i], a.nodes[:i]
	}
}

// apply carries out edits[i]; skip says to pass over the edits inside it.
func (a *applier) apply(edits []Edit, i int, defaultOp Operation) (skip bool, err error) {
	e := edits[i]
	op := e.Op
	if op == "" {
		op = defaultOp
	}
	if len(e.Path) == 0 {
		return false, newError(typeApp, "bad-element", "/", "an edit has an empty path")
	}
	parentPath, last := e.Path[:len(e.Path)-1], e.Path[len(e.Path)-1]
	parent, ok, err := a.resolve(parentPath, op.creates())
	if err != nil {
		return false, err
	}
	if !ok {
		switch op {
		case OpRemove:
			return true, nil
		case OpNone:
			return a.navigate(edits, i)
		}
		return false, newError(typeApp, "data-missing", e.Path.String(), "%s does not exist", parentPath)
	}
	f := parent.B.Field(last.Name)
	if f == nil {
		return false, newError(typeApp, "unknown-element", e.Path.String(), "unknown node %q in %s", last.Name, parentPath).WithInfo("bad-element", last.Name)
	}
	switch f.Kind {
	case schema.KindLeaf, schema.KindLeafList:
		return false, a.leaf(parent, f, e, op)
	}
	var exists bool
	if f.Kind == schema.KindContainer {
		_, exists = parent.Container(f, false)
	} else {
		_, exists, err = parent.Entry(a.s, f, last.Key, false)
		if err != nil {
			return false, newError(typeApp, "invalid-value", e.Path.String(), "invalid key in %s: %v", e.Path, err).WithInfo("bad-element", last.KeyName)
		}
	}
	switch op {
	case OpNone:
		if !exists {
			return a.navigate(edits, i)
		}
	case OpMerge:
	case OpCreate:
		if exists {
			return false, newError(typeApp, "data-exists", e.Path.String(), "%s already exists", e.Path)
		}
	case OpReplace, OpDelete, OpRemove:
		if !exists {
			if op == OpDelete {
				return false, newError(typeApp, "data-missing", e.Path.String(), "%s does not exist", e.Path)
			}
			if op == OpRemove {
				return true, nil
			}
			break
		}
		a.forget(len(parentPath))
		if op == OpReplace && f.Ordered && !e.Insert.Set {
			e.Insert = stayPut(parent, f, last.Key) // its place, not last
		}
		if f.Kind == schema.KindContainer {
			parent.ClearField(f)
		} else if _, err := parent.DeleteEntry(a.s, f, last.Key); err != nil {
			return false, newError(typeApp, "invalid-value", e.Path.String(), "invalid key in %s: %v", e.Path, err)
		}
		if op != OpReplace {
			return true, nil
		}
	default:
		return false, newError(typeProt, "bad-attribute", e.Path.String(), "operation %q of %s is not one of merge, replace, create, delete, remove", op, e.Path).WithInfo("bad-attribute", "operation", "bad-element", last.Name)
	}
	if _, _, err = a.resolve(e.Path, op != OpNone); err != nil || !e.Insert.Set {
		return false, err
	}
	return false, a.insert(parent, f, e)
}

// stayPut returns the Insert that puts entry key of ordered list f of
// parent back where it is: before the entry that follows it.
func stayPut(parent schema.Node, f *schema.Field, key string) Insert {
	order := parent.Order(f)
	for i, k := range order {
		if k == key && i+1 < len(order) {
			return Insert{Set: true, Where: schema.Before, Anchor: order[i+1]}
		}
	}
	return Insert{} // last, where a new entry goes
}

// insert moves the entry of edit e, an entry of list f of parent that
// exists, where its insert attribute says (RFC 7950 §7.8.6). An insert
// before or after an entry that does not exist is the error of RFC 7950
// §15.7: missing-attribute, error-app-tag missing-instance.
func (a *applier) insert(parent schema.Node, f *schema.Field, e Edit) error {
	last := e.Path[len(e.Path)-1]
	ok, err := parent.MoveEntry(a.s, f, last.Key, e.Insert.Where, e.Insert.Anchor)
	if err != nil {
		return newError(typeApp, "bad-attribute", e.Path.String(), "insert on %s: %v", e.Path, err).WithInfo("bad-attribute", "key", "bad-element", last.Name)
	}
	if !ok {
		err := newError(typeApp, "missing-attribute", e.Path.String(), "insert on %s: the key attribute names no entry of %s: [%s=%s]", e.Path, last.Name, last.KeyName, quoteXPath(e.Insert.Anchor)).WithInfo("bad-attribute", "key", "bad-element", last.Name)
		err.AppTag = "missing-instance"
		return err
	}
	a.forget(len(e.Path) - 1) // the list took a new ordered map
	return nil
}

// navigate handles a container or entry that does not exist, reached with
// no operation under default-operation none.
func (a *applier) navigate(edits []Edit, i int) (bool, error) {
	end := subtreeEnd(edits, i)
	onlyRemove := true
	for _, c := range edits[i+1 : end] {
		if c.Op.creates() {
			return false, nil // it builds the path when it comes
		}
		if c.Op != OpRemove {
			onlyRemove = false
		}
	}
	if onlyRemove {
		return true, nil
	}
	p := edits[i].Path
	return false, newError(typeApp, "data-missing", p.String(), "%s does not exist (default-operation none)", p)
}

// leaf carries out an edit of leaf or leaf-list f of parent.
func (a *applier) leaf(parent schema.Node, f *schema.Field, e Edit, op Operation) error {
	if parent.B.Entry != nil && parent.B.Entry.Key != "" && schema.KeyNames(parent.B.Entry)[0] == f.Name {
		if k, _ := parent.Leaf(a.s, f); (op == OpMerge || op == OpReplace || op == OpNone) && k == e.Value {
			return nil
		}
		path := leafPath(f, e)
		return newError(typeApp, "bad-element", path, "%s is a key: it cannot be changed or removed", path).WithInfo("bad-element", f.Name)
	}
	exists := false
	if f.Kind == schema.KindLeaf {
		exists = parent.Has(f)
	} else if op != OpMerge && op != OpReplace && op != OpNone {
		for _, v := range parent.LeafList(a.s, f) {
			if v == e.Value {
				exists = true
				break
			}
		}
	}
	switch op {
	case OpNone:
		return nil
	case OpCreate:
		if exists {
			path := leafPath(f, e)
			return newError(typeApp, "data-exists", path, "%s already exists", path)
		}
	case OpDelete:
		if !exists {
			path := leafPath(f, e)
			return newError(typeApp, "data-missing", path, "%s does not exist", path)
		}
		fallthrough
	case OpRemove:
		if f.Kind == schema.KindLeaf {
			return parent.DeleteLeaf(a.s, f, "")
		}
		if !exists {
			return nil
		}
		if err := parent.DeleteLeaf(a.s, f, e.Value); err != nil {
			return newError(typeApp, "invalid-value", leafPath(f, e), "invalid value for %s: %v", e.Path, err).WithInfo("bad-element", f.Name)
		}
		return nil
	case OpMerge, OpReplace:
	default:
		return newError(typeProt, "bad-attribute", leafPath(f, e), "operation %q of %s is not one of merge, replace, create, delete, remove", op, e.Path).WithInfo("bad-attribute", "operation", "bad-element", f.Name)
	}
	if err := parent.SetLeaf(a.s, f, e.Value); err != nil {
		msg := err.Error()
		if f.Secret {
			msg = "the value is not valid"
		}
		return newError(typeApp, "invalid-value", leafPath(f, e), "invalid value for %s: %s", e.Path, msg).WithInfo("bad-element", f.Name)
	}
	if !e.Insert.Set {
		return nil
	}
	ok, err := parent.MoveValue(a.s, f, e.Value, e.Insert.Where, e.Insert.Anchor)
	if err != nil {
		return newError(typeApp, "bad-attribute", leafPath(f, e), "insert on %s: %v", leafPath(f, e), err).WithInfo("bad-attribute", "value", "bad-element", f.Name)
	}
	if !ok {
		err := newError(typeApp, "missing-attribute", leafPath(f, e), "insert on %s: the value attribute names no value of %s: %s", leafPath(f, e), f.Name, quoteXPath(e.Insert.Anchor)).WithInfo("bad-attribute", "value", "bad-element", f.Name)
		err.AppTag = "missing-instance"
		return err
	}
	return nil
}

// leafPath is the instance identifier of a leaf, or of a leaf-list value
// (RFC 7950 §9.13.2: leaf-list[.='value']).
func leafPath(f *schema.Field, e Edit) string {
	if f.Kind == schema.KindLeafList {
		return e.Path.String() + "[.=" + quoteXPath(e.Value) + "]"
	}
	return e.Path.String()
}
