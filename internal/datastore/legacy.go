package datastore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"secgw/internal/schema"
)

// Access control moved from secgw-aaa's /aaa/nacm to ietf-netconf-acm's
// /nacm (RFC 8341), its groups from /aaa/nacm/group to
// /nacm/groups/group; the rest of the subtree kept its names. A data
// directory written before holds the old paths in the snapshot (its data
// and the undo ops of a pending confirmed commit), the journal's records
// and the history's files: each is carried to the new paths as it is
// read (migrateSnapshot, migrateOps), so that a start keeps the rules and
// a rollback to an old commit still applies. The stored files are not
// rewritten: the next snapshot is in the new form.

// modelNACM is the Model of the records and snapshots written since
// access control is at /nacm; 0 (absent) is before.
const modelNACM = 1

// legacyNACM is the message Migrated returns once Open carried something.
const legacyNACM = "the stored configuration held access control at /aaa/nacm (secgw-aaa, before ietf-netconf-acm): carried to /nacm"

// migrateSnapshot returns the snapshot file b with /aaa/nacm carried to
// /nacm, and whether it changed. A file that does not name nacm is
// returned as is, unparsed.
func migrateSnapshot(b []byte) ([]byte, bool, error) {
	if !bytes.Contains(b, []byte(`"nacm"`)) {
		return b, false, nil
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, false, fmt.Errorf("datastore: %w", err)
	}
	changed := false
	if raw, ok := file["data"]; ok {
		data, moved, err := migrateData(raw)
		if err != nil {
			return nil, false, err
		}
		if moved {
			file["data"], changed = data, true
		}
	}
	if raw, ok := file["confirm"]; ok && !bytes.Equal(raw, []byte("null")) {
		var c confirmForm
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, false, fmt.Errorf("datastore: %w", err)
		}
		moved := false
		for i, ops := range c.Undo {
			if c.Model >= modelNACM {
				break // written since: nothing to carry
			}
			var m bool
			if c.Undo[i], m = migrateOps(ops); m {
				moved = true
			}
		}
		if moved {
			c.Model = modelNACM
			out, err := json.Marshal(c)
			if err != nil {
				return nil, false, fmt.Errorf("datastore: %w", err)
			}
			file["confirm"], changed = out, true
		}
	}
	if !changed {
		return b, false, nil
	}
	out, err := json.Marshal(file)
	if err != nil {
		return nil, false, fmt.Errorf("datastore: %w", err)
	}
	return out, true, nil
}

// migrateData carries the aaa member's nacm of the root object raw to a
// nacm member of the root.
func migrateData(raw json.RawMessage) (json.RawMessage, bool, error) {
	var data map[string]json.RawMessage
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, false, fmt.Errorf("datastore: %w", err)
	}
	aaaRaw, ok := data["aaa"]
	if !ok {
		return raw, false, nil
	}
	aaa, nacm, err := splitAAA(aaaRaw)
	if err != nil || nacm == nil {
		return raw, false, err
	}
	if _, both := data["nacm"]; both {
		return nil, false, fmt.Errorf("datastore: the stored configuration holds both /aaa/nacm and /nacm")
	}
	if aaa == nil {
		delete(data, "aaa")
	} else {
		data["aaa"] = aaa
	}
	data["nacm"] = nacm
	out, err := json.Marshal(data)
	if err != nil {
		return nil, false, fmt.Errorf("datastore: %w", err)
	}
	return out, true, nil
}

// splitAAA splits the object of /aaa into /aaa without nacm (nil when
// nothing else is left) and the object of /nacm in the new form (nil
// when /aaa holds no nacm).
func splitAAA(raw json.RawMessage) (aaa, nacm json.RawMessage, err error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, nil, fmt.Errorf("datastore: /aaa: %w", err)
	}
	old, ok := obj["nacm"]
	if !ok {
		return raw, nil, nil
	}
	delete(obj, "nacm")
	if nacm, err = nacmObject(old); err != nil {
		return nil, nil, err
	}
	if len(obj) == 0 {
		return nil, nacm, nil
	}
	aaa, err = json.Marshal(obj)
	return aaa, nacm, err
}

// nacmObject turns the object of /aaa/nacm into that of /nacm: its group
// list goes into the groups container.
func nacmObject(raw json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("datastore: /aaa/nacm: %w", err)
	}
	if rl, ok := obj["rule-list"]; ok {
		obj["rule-list"] = rulePaths(rl)
	}
	g, ok := obj["group"]
	if !ok {
		return json.Marshal(obj)
	}
	delete(obj, "group")
	groups, err := json.Marshal(map[string]json.RawMessage{"group": g})
	if err != nil {
		return nil, err
	}
	obj["groups"] = groups
	return json.Marshal(obj)
}

// rulePaths rewrites, in the JSON of (part of) /aaa/nacm, the values of
// the rules' path leaves that name the old place of the rules: a rule on
// /aaa/nacm now names /nacm, one on its groups /nacm/groups/group. The
// codec writes "path":"value" with no space; the prefixed form of a path
// (/aaa:aaa/aaa:nacm) is left as it is.
func rulePaths(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, []byte(`"path":"/aaa/nacm`)) {
		return raw
	}
	out := bytes.ReplaceAll(raw, []byte(`"path":"/aaa/nacm/group`), []byte(`"path":"/nacm/groups/group`))
	return bytes.ReplaceAll(out, []byte(`"path":"/aaa/nacm`), []byte(`"path":"/nacm`))
}

// migrateOps returns ops with the paths and data of /aaa/nacm carried to
// /nacm, and whether any changed. An op on /aaa itself splits in two: a
// created /aaa's nacm becomes a create of /nacm, and a deleted /aaa
// deletes /nacm too, as it deleted the nacm it held.
func migrateOps(ops []op) ([]op, bool) {
	changed := false
	for _, o := range ops {
		if len(o.Path) > 0 && o.Path[0].Name == "aaa" && (len(o.Path) == 1 || o.Path[1].Name == "nacm") {
			changed = true
			break
		}
	}
	if !changed {
		return ops, false
	}
	out := make([]op, 0, len(ops)+1)
	for _, o := range ops {
		switch {
		case len(o.Path) == 0 || o.Path[0].Name != "aaa":
			out = append(out, o)
		case len(o.Path) == 1:
			out = append(out, migrateAAAOp(o)...)
		case o.Path[1].Name == "nacm":
			rest := o.Path[2:]
			p := append([]schema.Elem{{Name: "nacm"}}, rest...)
			if len(rest) > 0 && rest[0].Name == "group" {
				p = append([]schema.Elem{{Name: "nacm"}, {Name: "groups"}}, rest...)
			}
			n := op{Op: o.Op, Path: p, Data: rulePaths(o.Data)}
			if len(rest) == 0 && o.Op == Create {
				if d, err := nacmObject(o.Data); err == nil {
					n.Data = d
				}
			}
			out = append(out, n)
		default:
			out = append(out, o)
		}
	}
	return out, true
}

// migrateAAAOp carries an op on /aaa itself.
func migrateAAAOp(o op) []op {
	nacmPath := []schema.Elem{{Name: "nacm"}}
	switch o.Op {
	case Delete:
		return []op{o, {Op: Delete, Path: nacmPath}}
	case Create:
		aaa, nacm, err := splitAAA(o.Data)
		if err != nil || nacm == nil {
			return []op{o}
		}
		out := []op{{Op: Create, Path: nacmPath, Data: nacm}}
		if aaa != nil {
			out = append([]op{{Op: Create, Path: o.Path, Data: aaa}}, out...)
		}
		return out
	}
	return []op{o}
}

// Migrated says, when Open carried a configuration of an earlier model
// to the current one (legacy.go), what it did; "" otherwise. The daemon
// logs it once, at start.
func (st *Store) Migrated() string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.migrated
}
