package xmlcodec

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"secgw/generated"
	"secgw/internal/schema"
)

// DefaultsMode is a with-defaults retrieval mode (RFC 6243 §3), spelled as
// the with-defaults parameter spells it.
type DefaultsMode string

// The with-defaults modes. The zero value is Explicit, secgw's basic mode.
const (
	// Explicit reports the leaves that are set, whatever their value.
	Explicit DefaultsMode = "explicit"
	// ReportAll also reports the default value of every unset leaf whose
	// parent exists, non-presence containers included.
	ReportAll DefaultsMode = "report-all"
	// ReportAllTagged is ReportAll, with the attribute wd:default="true"
	// on every leaf whose value is its default.
	ReportAllTagged DefaultsMode = "report-all-tagged"
	// Trim omits the leaves whose value is their default.
	Trim DefaultsMode = "trim"
)

// EncodeOptions says what Encode writes.
type EncodeOptions struct {
	// Config restricts the output to configuration (config true) nodes,
	// as <get-config> returns; otherwise state nodes are written too, as
	// <get> returns.
	Config bool
	// WithDefaults is the RFC 6243 mode; empty means Explicit.
	WithDefaults DefaultsMode
	// Secrets includes the leaves marked secgw-types:secret; without it
	// they are left out, and a filter cannot match on their values. A
	// secret state leaf (a session key) is written only when, besides,
	// a subtree filter names it: a plain <get> (the CLI's show state)
	// never carries keys, only a request that asks for them does (the
	// CLI's show ike ike-sa with-keys).
	Secrets bool
	// Filter, when not nil, is a subtree filter (RFC 6241 §6).
	Filter *Filter
	// Read, when not nil, is the read access control (RFC 8341 §3.4.5):
	// a node, of namespace ns at path (list entries with their keys), for
	// which it returns false is left out with its descendants, and does
	// not exist for the subtree filter either: a content match node on it
	// matches nothing (RFC 8341 §3.2.4: the filter applies to what the
	// user may read). A list entry whose key it denies is left out. Secret
	// leaves are written when Secrets is set and Read grants them.
	Read func(ns string, path schema.DataPath, secret bool) bool
	// Indent, when not empty, puts each element on its own line, indented
	// by this string per level.
	Indent string
}

// Encode writes the content of a <data> (or <config>) element for tree d:
// one element per top-level node, each declaring its namespace.
func (c *Codec) Encode(w io.Writer, d *generated.Device, opts EncodeOptions) error {
	b, err := c.Append(nil, d, opts)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Append is Encode appending to dst.
func (c *Codec) Append(dst []byte, d *generated.Device, opts EncodeOptions) ([]byte, error) {
	e := &encoder{c: c, opts: opts, buf: dst, start: len(dst), mode: opts.WithDefaults}
	switch e.mode {
	case "":
		e.mode = Explicit
	case Explicit, ReportAll, ReportAllTagged, Trim:
	default:
		return dst, newError(typeProt, "invalid-value", "", "with-defaults mode %q is not one of report-all, report-all-tagged, trim, explicit", opts.WithDefaults).WithInfo("bad-element", "with-defaults")
	}
	if opts.Config {
		e.dflt = 0
	} else {
		e.dflt = 1
	}
	if d == nil {
		return dst, nil
	}
	root := c.s.RootNode(d)
	if opts.Filter == nil {
		e.children(root, c.root, "", true, nil)
	} else if len(opts.Filter.Nodes) > 0 {
		e.children(root, c.root, "", false, []*FilterNode{{Children: opts.Filter.Nodes}})
	}
	return e.buf, nil
}

type encoder struct {
	c     *Codec
	opts  EncodeOptions
	mode  DefaultsMode
	dflt  int // index into plan.defaults
	buf   []byte
	start int
	depth int
	path  schema.DataPath // path of the node being written, for Read
}

// hidden reports whether the options leave node fp out.
func (e *encoder) hidden(fp *fieldPlan) bool {
	return (e.opts.Config && !fp.f.Config) || (fp.secret && !e.opts.Secrets)
}

// reportDefaults reports whether unset leaves show their default.
func (e *encoder) reportDefaults() bool { return e.mode == ReportAll || e.mode == ReportAllTagged }

// leafValue returns the value leaf fp of n reports in the current mode,
// and whether it is the default value; present is false when the leaf is
// not reported. n.V is invalid for an absent non-presence container.
func (e *encoder) leafValue(n schema.Node, fp *fieldPlan) (val string, isDefault, present bool) {
	if n.V.IsValid() {
		if v, ok := n.Leaf(e.c.s, fp.f); ok {
			isDefault = fp.hasDflt && v == fp.dflt
			if isDefault && e.mode == Trim {
				return "", true, false
			}
			return v, isDefault, true
		}
	}
	if fp.hasDflt && e.reportDefaults() {
		return fp.dflt, true, true
	}
	return "", false, false
}

// children writes the children of container or list entry n (plan p,
// namespace ns). all selects everything; otherwise insts are the filter
// elements that name n, and children reports whether the filter selected
// anything in n (keys aside), so that the caller can drop n otherwise.
func (e *encoder) children(n schema.Node, p *plan, ns string, all bool, insts []*FilterNode) bool {
	var kept []*FilterNode
	hit := false
	if !all {
		for _, fe := range insts {
			if len(fe.Children) == 0 {
				all = true
				break
			}
			ok, some, only := e.contentMatch(n, p, fe)
			if !ok {
				continue
			}
			kept = append(kept, fe)
			hit = hit || some
			if only {
				all = true
				break
			}
		}
		if !all && len(kept) == 0 {
			return false
		}
	}
	wrote := false
	for i := range p.fields {
		fp := &p.fields[i]
		if e.hidden(fp) {
			continue
		}
		if !e.readable(fp) {
			continue
		}
		if all && fp.secret && !fp.f.Config {
			continue // a session key: only when the filter names it
		}
		subAll := all || fp.isKey
		var sub []*FilterNode
		if !subAll {
			if sub = matching(kept, fp); len(sub) == 0 {
				continue
			}
		}
		switch fp.f.Kind {
		case schema.KindLeaf:
			if v, isDefault, ok := e.leafValue(n, fp); ok {
				e.leaf(fp, ns, v, isDefault && e.mode == ReportAllTagged)
				// A key is written with every entry, but selects the
				// entry only when the filter names it in a selection
				// node (<vpn><name/></vpn>: the names of every vpn,
				// RFC 6241 §6.2.5).
				wrote = wrote || !fp.isKey || (!all && selectsKey(kept, fp))
			}
		case schema.KindLeafList:
			if !n.V.IsValid() {
				continue
			}
			var want map[string]bool
			if !subAll {
				want = e.wanted(sub, fp)
			}
			for _, v := range n.LeafList(e.c.s, fp.f) {
				if want == nil || want[v] {
					e.leaf(fp, ns, v, false)
					wrote = true
				}
			}
		case schema.KindContainer:
			childAll := subAll || selectsAll(sub)
			var c schema.Node
			ok := false
			if n.V.IsValid() {
				c, ok = n.Container(fp.f, false)
			}
			if !ok {
				if !e.reportDefaults() || fp.elem.presence || !fp.elem.defaults[e.dflt] {
					continue
				}
			}
			wrote = e.node(c, fp, ns, childAll, sub) || wrote
		case schema.KindList:
			if !n.V.IsValid() {
				continue
			}
			childAll := subAll || selectsAll(sub)
			for _, c := range e.entries(n, fp, childAll, sub) {
				if e.opts.Read != nil && !e.readableEntry(c, fp) {
					continue
				}
				wrote = e.node(c, fp, ns, childAll, sub) || wrote
			}
		}
	}
	return wrote || hit
}

// node writes container or list entry c of field fp (c.V is invalid for
// an absent non-presence container written for its defaults). It drops
// the element when a filter selected nothing in it, and a non-presence
// container with nothing inside: it carries no information (RFC 7950
// §7.5.1), and libyang does not print it either.
func (e *encoder) node(c schema.Node, fp *fieldPlan, parentNS string, all bool, sub []*FilterNode) bool {
	mark := len(e.buf)
	e.open(fp, parentNS, false)
	inner := len(e.buf)
	e.depth++
	e.path = append(e.path, e.elem(c, fp))
	got := e.children(c, fp.elem, fp.ns, all, sub)
	e.path = e.path[:len(e.path)-1]
	e.depth--
	empty := len(e.buf) == inner
	if (!all && !got) || (empty && fp.f.Kind == schema.KindContainer && !fp.elem.presence) {
		e.buf = e.buf[:mark]
		return false
	}
	e.close(fp, !empty)
	return true
}

// readable reports whether Read lets the node of field fp, a child of
// the node at e.path, be written or matched. A list is checked entry by
// entry (readableEntry), whose keys a rule may name.
func (e *encoder) readable(fp *fieldPlan) bool {
	if e.opts.Read == nil || fp.f.Kind == schema.KindList {
		return true
	}
	return e.opts.Read(fp.ns, append(e.path, schema.Elem{Name: fp.f.Name}), fp.secret)
}

// readableEntry reports whether Read lets list entry c of fp be written:
// the entry, and its key, which is its identity.
func (e *encoder) readableEntry(c schema.Node, fp *fieldPlan) bool {
	p := append(e.path, e.elem(c, fp))
	if !e.opts.Read(fp.ns, p, false) {
		return false
	}
	kp := fp.elem.key
	return e.opts.Read(kp.ns, append(p, schema.Elem{Name: kp.f.Name}), kp.secret)
}

// elem returns the path step of node c of field fp: with its key for a
// list entry. Keys are only needed by Read.
func (e *encoder) elem(c schema.Node, fp *fieldPlan) schema.Elem {
	el := schema.Elem{Name: fp.f.Name}
	if fp.f.Kind == schema.KindList && e.opts.Read != nil {
		el.KeyName = fp.f.Elem.Fields[fp.f.KeyIndex].Name
		el.Key = c.Key(e.c.s, fp.f)
	}
	return el
}

// open writes the start tag of fp, with its namespace when it differs
// from the parent's.
func (e *encoder) open(fp *fieldPlan, parentNS string, tagged bool) {
	if e.opts.Indent != "" && len(e.buf) > e.start {
		e.newline()
	}
	e.buf = append(e.buf, '<')
	e.buf = append(e.buf, fp.f.Name...)
	if fp.ns != parentNS {
		e.buf = append(e.buf, ` xmlns="`...)
		e.buf = appendEscaped(e.buf, fp.ns, true)
		e.buf = append(e.buf, '"')
	}
	if e.depth == 0 && e.mode == ReportAllTagged {
		e.buf = append(e.buf, ` xmlns:wd="`+WithDefaultsNS+`"`...)
	}
	if tagged {
		e.buf = append(e.buf, ` wd:default="true"`...)
	}
	e.buf = append(e.buf, '>')
}

// close writes the end tag of fp, or turns an empty element into <x/>.
func (e *encoder) close(fp *fieldPlan, content bool) {
	if !content {
		e.buf = append(e.buf[:len(e.buf)-1], "/>"...)
		return
	}
	if e.opts.Indent != "" && e.buf[len(e.buf)-1] == '>' {
		e.newline()
	}
	e.buf = append(e.buf, "</"...)
	e.buf = append(e.buf, fp.f.Name...)
	e.buf = append(e.buf, '>')
}

func (e *encoder) newline() {
	e.buf = append(e.buf, '\n')
	for i := 0; i < e.depth; i++ {
		e.buf = append(e.buf, e.opts.Indent...)
	}
}

// leaf writes one leaf or leaf-list element.
func (e *encoder) leaf(fp *fieldPlan, parentNS, v string, tagged bool) {
	e.open(fp, parentNS, tagged)
	if v == "" {
		e.buf = append(e.buf[:len(e.buf)-1], "/>"...)
		return
	}
	e.buf = appendEscaped(e.buf, v, false)
	e.buf = append(e.buf, "</"...)
	e.buf = append(e.buf, fp.f.Name...)
	e.buf = append(e.buf, '>')
}

// appendEscaped appends s as XML character data (or an attribute value):
// markup characters and carriage returns as references, characters XML
// cannot carry (C0 controls but tab and newline, U+FFFE, U+FFFF, invalid
// UTF-8) as U+FFFD. Valid YANG strings (RFC 7950 §9.4) have none of the
// latter.
func appendEscaped(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '&':
			esc = "&amp;"
		case r == '\r':
			esc = "&#xD;"
		case r == '"' && attr:
			esc = "&quot;"
		case (r == '\n' || r == '\t') && attr:
			esc = fmt.Sprintf("&#x%X;", r)
		case r == utf8.RuneError && size == 1, r < 0x20 && r != '\n' && r != '\t',
			r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			esc = "\uFFFD"
		default:
			i += size
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		i += size
		last = i
	}
	return append(b, s[last:]...)
}

// selectsKey reports whether a filter element of kept has a selection
// node (no children, blank text) for the key fp.
func selectsKey(kept []*FilterNode, fp *fieldPlan) bool {
	for _, fe := range matching(kept, fp) {
		if len(fe.Children) == 0 && strings.TrimSpace(fe.Text) == "" {
			return true
		}
	}
	return false
}
