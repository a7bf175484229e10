package datastore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"secgw/internal/schema"
)

// op is one change in its durable form: what the journal file, the
// history and rollback replay. Data is the node's subtree (create) or its
// own leaves (update), in the on-disk codec's JSON.
type op struct {
	Op   Op              `json:"op"`
	Path []schema.Elem   `json:"path"`
	Data json.RawMessage `json:"data,omitempty"`
}

// opsFor renders changes as forward ops (turning old into new) and their
// inverse (turning new back into old, newest first).
func opsFor(s *schema.Schema, oldRoot, newRoot schema.Node, changes []Change) (fwd, inv []op, err error) {
	for _, c := range changes {
		switch c.Op {
		case Create:
			data, err := encodeAt(s, newRoot, c.Path, false)
			if err != nil {
				return nil, nil, err
			}
			fwd = append(fwd, op{Op: Create, Path: c.Path, Data: data})
			inv = append(inv, op{Op: Delete, Path: c.Path})
		case Delete:
			data, err := encodeAt(s, oldRoot, c.Path, false)
			if err != nil {
				return nil, nil, err
			}
			fwd = append(fwd, op{Op: Delete, Path: c.Path})
			inv = append(inv, op{Op: Create, Path: c.Path, Data: data})
		case Update:
			nd, err := encodeAt(s, newRoot, c.Path, true)
			if err != nil {
				return nil, nil, err
			}
			od, err := encodeAt(s, oldRoot, c.Path, true)
			if err != nil {
				return nil, nil, err
			}
			fwd = append(fwd, op{Op: Update, Path: c.Path, Data: nd})
			inv = append(inv, op{Op: Update, Path: c.Path, Data: od})
		}
	}
	// Undo in reverse order: children deleted before their parents go.
	for i, j := 0, len(inv)-1; i < j; i, j = i+1, j-1 {
		inv[i], inv[j] = inv[j], inv[i]
	}
	// The orders of the ordered-by user lists last, each way: a created
	// entry goes last until its list's order places it (order.go).
	fo, io, err := orderOps(s, oldRoot, newRoot, changes)
	if err != nil {
		return nil, nil, err
	}
	return append(fwd, fo...), append(inv, io...), nil
}

func encodeAt(s *schema.Schema, root schema.Node, p schema.DataPath, leavesOnly bool) ([]byte, error) {
	n, ok, err := s.ResolveFrom(root, p, false)
	if err != nil || !ok {
		return nil, fmt.Errorf("datastore: %s: not found (%v)", p, err)
	}
	var b bytes.Buffer
	encodeNodeOpt(s, &b, n, leavesOnly)
	return b.Bytes(), nil
}

// applyOps carries ops out on the tree of root (journaled or not).
func applyOps(s *schema.Schema, root schema.Node, ops []op) error {
	for _, o := range ops {
		if err := applyOp(s, root, o); err != nil {
			return err
		}
	}
	return nil
}

func applyOp(s *schema.Schema, root schema.Node, o op) error {
	p := schema.DataPath(o.Path)
	if len(p) == 0 {
		return fmt.Errorf("datastore: an operation on the root")
	}
	if o.Op == Move {
		return applyOrder(s, root, o)
	}
	parent, ok, err := s.ResolveFrom(root, p[:len(p)-1], o.Op == Create)
	if err != nil {
		return err
	}
	last := p[len(p)-1]
	if !ok {
		return fmt.Errorf("datastore: %s: parent missing", p)
	}
	f := parent.B.Field(last.Name)
	if f == nil {
		return fmt.Errorf("datastore: %s: unknown node", p)
	}
	switch o.Op {
	case Delete, Create:
		if f.Kind == schema.KindList {
			if _, err := parent.DeleteEntry(s, f, last.Key); err != nil {
				return err
			}
		} else {
			parent.ClearField(f)
		}
		if o.Op == Delete {
			return nil
		}
		var n schema.Node
		skip := ""
		if f.Kind == schema.KindList {
			n, _, err = parent.Entry(s, f, last.Key, true)
			if err != nil {
				return err
			}
			skip = schema.KeyNames(f.Entry)[0]
		} else {
			n, _ = parent.Container(f, true)
		}
		return decodeNodeJSON(s, n, o.Data, p, skip)
	case Update:
		var n schema.Node
		skip := ""
		if f.Kind == schema.KindList {
			n, ok, err = parent.Entry(s, f, last.Key, false)
			if err != nil {
				return err
			}
			skip = schema.KeyNames(f.Entry)[0]
		} else {
			n, ok = parent.Container(f, false)
		}
		if !ok {
			return fmt.Errorf("datastore: %s: update of a missing node", p)
		}
		for i := range n.B.Fields {
			lf := &n.B.Fields[i]
			if lf.Config && (lf.Kind == schema.KindLeaf || lf.Kind == schema.KindLeafList) && !isKey(n.B, lf) {
				n.ClearField(lf)
			}
		}
		return decodeNodeJSON(s, n, o.Data, p, skip)
	}
	return fmt.Errorf("datastore: %s: unknown operation %d", p, o.Op)
}

func isKey(b *schema.Binding, f *schema.Field) bool {
	keys := schema.KeyNames(b.Entry)
	return len(keys) > 0 && keys[0] == f.Name
}
