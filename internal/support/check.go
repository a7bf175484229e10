package support

import (
	"slices"
	"strings"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

// Checker refuses the configuration nodes of Refused.
type Checker struct {
	s    *schema.Schema
	rows map[string]*Row // by schema path
	// toward holds, by the schema path of a node, the names of its
	// children that are rows or lie on the way to one, each with its
	// schema path: the walk visits only those, so that its cost follows
	// the refused paths, not the whole configuration (at 100k VPNs
	// Present walked every leaf), and makes no path string as it goes.
	toward map[string]map[string]string
}

// NewChecker returns a Checker of the rows of Refused.
func NewChecker(s *schema.Schema) *Checker {
	c := &Checker{s: s, rows: map[string]*Row{}, toward: map[string]map[string]string{}}
	rows := Refused()
	for i := range rows {
		c.rows[rows[i].Path] = &rows[i]
		parent := ""
		for _, name := range strings.Split(strings.TrimPrefix(rows[i].Path, "/"), "/") {
			if c.toward[parent] == nil {
				c.toward[parent] = map[string]string{}
			}
			child := parent + "/" + name
			c.toward[parent][name] = child
			parent = child
		}
	}
	return c
}

// Check refuses what d holds of the refused nodes where it changed: the
// subtree of a created container or list entry, the leaves of an updated
// one, and the refused containers either lies in (datastore.Options.Check).
// It returns validate.Errors of kind KindNotSupported, one per refused
// node, with the node's path, or nil. Its cost follows the changes, not
// the configuration.
func (c *Checker) Check(d *generated.Device, changes []datastore.Change) error {
	return c.check(d, changes, false)
}

// Present lists the refused nodes d holds anywhere (a configuration
// committed by a release that accepted them), or nil.
func (c *Checker) Present(d *generated.Device) error { return c.check(d, nil, true) }

func (c *Checker) check(d *generated.Device, changes []datastore.Change, full bool) error {
	w := &checkWalk{c: c}
	if full {
		w.node(c.s.RootNode(d), nil, true)
	}
	for _, ch := range changes {
		if ch.Op == datastore.Delete {
			continue // deleted: nothing left to refuse
		}
		n, ok, err := c.s.Resolve(d, ch.Path, false)
		if err != nil || !ok || w.refusedSubtree(ch.Path) {
			continue
		}
		w.node(n, ch.Path, ch.Op == datastore.Create)
	}
	if len(w.errs) == 0 {
		return nil
	}
	return w.errs
}

type checkWalk struct {
	c    *Checker
	errs validate.Errors
	seen map[string]bool
}

// refusedSubtree reports (and records) whether the node at p, which
// exists, is a refused container or list entry itself or lies in one.
func (w *checkWalk) refusedSubtree(p schema.DataPath) bool {
	for i := 1; i <= len(p); i++ {
		if row := w.c.rows[schemaPath(p[:i])]; row != nil && w.applies(row, p[:i]) {
			w.refuse(p[:i], row, "")
			return true
		}
	}
	return false
}

// node checks node n at p: its leaves, and with deep its children.
// Only the children on the way to a row are visited: no other can be
// refused or hold a refused node.
func (w *checkWalk) node(n schema.Node, p schema.DataPath, deep bool) {
	// Clipped: the walk appends to p the steps below it, which must not
	// write into the caller's array.
	w.walk(n, slices.Clip(p), schemaPath(p), deep)
}

// walk is node with sp, the schema path of p. The data paths of the
// nodes below are appended to p in place, each overwriting its
// sibling's (nothing keeps one: refuse renders it at once), so that a
// walk of 100k VPNs makes no path per VPN.
func (w *checkWalk) walk(n schema.Node, p schema.DataPath, sp string, deep bool) {
	toward := w.c.toward[sp]
	if toward == nil {
		return
	}
	for i := range n.B.Fields {
		f := &n.B.Fields[i]
		csp := toward[f.Name]
		if csp == "" || !f.Config || !n.Has(f) {
			continue
		}
		switch f.Kind {
		case schema.KindLeaf, schema.KindLeafList:
			if row := w.c.rows[csp]; row != nil && w.applies(row, p) {
				for _, v := range w.values(n, f) {
					if w.refusedValue(row, f, v) {
						if f.Secret {
							v = "" // never in a message
						}
						w.refuse(append(p, schema.Elem{Name: f.Name}), row, v)
						break
					}
				}
			}
		case schema.KindContainer:
			cp := append(p, schema.Elem{Name: f.Name})
			if row := w.c.rows[csp]; row != nil && w.applies(row, cp) {
				w.refuse(cp, row, "")
				continue
			}
			if deep {
				c, _ := n.Container(f, false)
				w.walk(c, cp, csp, true)
			}
		case schema.KindList:
			kn := schema.KeyNames(f.Entry)[0]
			row := w.c.rows[csp]
			for _, e := range n.Entries(f) {
				ep := append(p, schema.Elem{Name: f.Name, KeyName: kn, Key: e.Key(w.c.s, f)})
				if row != nil && w.applies(row, ep) {
					w.refuse(ep, row, "")
					continue
				}
				if deep {
					w.walk(e, ep, csp, true)
				}
			}
		}
	}
}

// applies reports whether row is refused at data path p (NonMainVRF).
func (w *checkWalk) applies(row *Row, p schema.DataPath) bool {
	if !row.NonMainVRF {
		return true
	}
	return len(p) > 0 && p[0].Name == "vrf" && p[0].Key != "main"
}

func (w *checkWalk) values(n schema.Node, f *schema.Field) []string {
	if f.Kind == schema.KindLeafList {
		return n.LeafList(w.c.s, f)
	}
	v, _ := n.Leaf(w.c.s, f)
	return []string{v}
}

// refusedValue reports whether value v of leaf f is refused by row.
func (w *checkWalk) refusedValue(row *Row, f *schema.Field, v string) bool {
	if row.Allowed != nil {
		return !slices.Contains(row.Allowed, v)
	}
	if row.Denied != nil {
		return slices.Contains(row.Denied, v)
	}
	if len(f.Entry.Default) == 0 {
		return true
	}
	// The default, in the same lexical form as v.
	if dv, err := w.c.s.ParseValue(f, f.Entry.Default[0]); err == nil {
		if ds, ok := w.c.s.Format(dv); ok {
			return ds != v
		}
	}
	return f.Entry.Default[0] != v
}

func (w *checkWalk) refuse(p schema.DataPath, row *Row, value string) {
	path := p.String()
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if w.seen[path] {
		return
	}
	w.seen[path] = true
	what := "this node"
	if value != "" {
		what = "the value " + value
	}
	w.errs = append(w.errs, &validate.Error{Path: path, Kind: validate.KindNotSupported,
		Message: what + " is not supported by this release: " + row.Feature +
			"; it is refused rather than accepted and not acted on"})
}

// schemaPath is p without its keys: /vrf/ike/vpn.
func schemaPath(p schema.DataPath) string {
	var b strings.Builder
	for _, e := range p {
		b.WriteByte('/')
		b.WriteString(e.Name)
	}
	return b.String()
}
