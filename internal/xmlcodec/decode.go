package xmlcodec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"secgw/generated"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// Edit is one node of an <edit-config> <config> element: a container, a
// list entry (its path ends with the key), a leaf (Value is its lexical
// value, in canonical form) or one leaf-list value.
type Edit struct {
	// Path addresses the node. For a leaf-list value, it addresses the
	// leaf-list and Value says which value.
	Path schema.DataPath
	// Op is the operation of the element or of its nearest ancestor that
	// has one; empty when none has, and the default operation applies.
	Op Operation
	// Value is the value of a leaf or leaf-list (empty for delete and
	// remove on a leaf, whose content does not matter).
	Value string
	// Insert is where the insert attribute puts an entry of an
	// ordered-by user list (insert.go).
	Insert Insert
}

// DecodeOptions says what Decode accepts.
type DecodeOptions struct {
	// AllowState accepts state (config false) nodes, to read back what
	// Encode wrote without EncodeOptions.Config. <edit-config> does not
	// set it: a state node there is an unknown-element error.
	AllowState bool
}

// element is a parsed XML element: the first pass of Decode builds the
// tree, the second walks it with the schema, so that a list key may come
// anywhere among the entry's children.
type element struct {
	name     xml.Name
	attrs    []xml.Attr
	text     []byte
	children []*element
}

// Decode reads the content of an <edit-config> <config> element (the
// <config> element itself may be included) and returns its edits in
// document order, parents before children. It checks names, namespaces,
// operation attributes, keys and the lexical form of values, and changes
// nothing: Apply carries the edits out. d is not used today; it is there
// for checks that need the target, like insert positions.
func (c *Codec) Decode(r io.Reader, d *generated.Device, opts DecodeOptions) ([]Edit, error) {
	var els Elements
	if err := els.parse(xml.NewDecoder(r), false); err != nil {
		return nil, err
	}
	if len(els.top) == 1 && els.top[0].name.Space == NetconfNS && (els.top[0].name.Local == "config" || els.top[0].name.Local == "data") {
		els.top = els.top[0].children
	}
	return c.DecodeElements(&els, d, opts)
}

// DecodeElements is Decode of the content of a <config> element that
// ParseElements read.
func (c *Codec) DecodeElements(els *Elements, d *generated.Device, opts DecodeOptions) ([]Edit, error) {
	dc := &decoder{c: c, opts: opts, edits: make([]Edit, 0, els.count)}
	root := &element{children: els.top}
	if err := dc.walk(nil, c.root, root, ""); err != nil {
		return nil, err
	}
	return dc.edits, nil
}

// Elements is the parsed content of a <config> element, for
// DecodeElements: the elements and their text, with the namespaces
// resolved, and not yet checked against the schema.
type Elements struct {
	top   []*element
	count int // the number of elements
}

// ParseElements reads the content of the element whose start tag dec has
// just returned, through its end tag: an edit-config's <config> is read
// in one pass over the message, with the namespaces declared around it
// in scope, and no copy of its text. On an error in the content (nesting
// too deep, a directive) it still reads through the end tag, so that dec
// may go on with what follows.
func ParseElements(dec *xml.Decoder) (*Elements, error) {
	els := &Elements{}
	if err := els.parse(dec, true); err != nil {
		return nil, err
	}
	return els, nil
}

// parse reads elements from dec into els: until the end tag of the
// element dec is in when inside is set, else until the end of the input.
func (els *Elements) parse(dec *xml.Decoder, inside bool) error {
	var stack []*element
	var slab []element // elements are allocated by the hundred
	var failed error
	depth := 0 // elements open, counting those below maxDepth not kept
	for {
		tok, err := dec.Token()
		if !inside && errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return malformed(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if failed != nil {
				continue
			}
			if len(stack) >= maxDepth {
				failed = newError(typeRPC, "malformed-message", "", "XML nested deeper than %d elements", maxDepth)
				continue
			}
			if len(slab) == 0 {
				slab = make([]element, 256)
			}
			el := &slab[0]
			slab = slab[1:]
			els.count++
			el.name = t.Name
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && !(a.Name.Space == "" && a.Name.Local == "xmlns") {
					el.attrs = append(el.attrs, a)
				}
			}
			if len(stack) == 0 {
				els.top = append(els.top, el)
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, el)
			}
			stack = append(stack, el)
		case xml.EndElement:
			if depth == 0 {
				return failed // the end tag of the element read (inside)
			}
			depth--
			if failed == nil {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			switch {
			case failed != nil:
			case len(stack) > 0:
				el := stack[len(stack)-1]
				el.text = append(el.text, t...)
			case !inside && len(bytes.TrimSpace(t)) != 0:
				// Text directly inside the element read (inside) is not
				// configuration, and ignored.
				failed = newError(typeRPC, "malformed-message", "", "text outside of any element")
			}
		case xml.Directive:
			if failed == nil {
				failed = newError(typeRPC, "malformed-message", "", "XML directives (DTD) are not accepted")
			}
		}
		if failed != nil && !inside {
			return failed
		}
	}
	return failed
}

type decoder struct {
	c     *Codec
	opts  DecodeOptions
	edits []Edit
	arena []schema.Elem // backing store of the edits' paths
}

// child returns path extended by el, in storage of its own carved from
// the arena (one allocation per few hundred paths).
func (dc *decoder) child(path schema.DataPath, el schema.Elem) schema.DataPath {
	n := len(path) + 1
	if cap(dc.arena)-len(dc.arena) < n {
		dc.arena = make([]schema.Elem, 0, max(1024, n))
	}
	start := len(dc.arena)
	dc.arena = append(dc.arena, path...)
	dc.arena = append(dc.arena, el)
	return dc.arena[start:len(dc.arena):len(dc.arena)]
}

// walk decodes the children of el, a container or list entry of plan p
// at path, whose effective operation is op.
func (dc *decoder) walk(path schema.DataPath, p *plan, el *element, op Operation) error {
	if len(el.text) > 0 && len(bytes.TrimSpace(el.text)) != 0 {
		return newError(typeApp, "bad-element", path.String(), "%s is a container or list entry: it takes child elements, not text", path).WithInfo("bad-element", el.name.Local)
	}
	for _, ch := range el.children {
		fp, err := dc.lookup(path, p, ch)
		if err != nil {
			return err
		}
		if fp.isKey {
			continue // checked by the list entry
		}
		var y yangAttrs
		cop, wdDefault, err := dc.attrs(path, ch, op, &y)
		if err != nil {
			return err
		}
		cpath := dc.child(path, schema.Elem{Name: fp.f.Name})
		if fp.f.Kind == schema.KindLeaf || fp.f.Kind == schema.KindContainer {
			if err := y.forNonList(elemPath(path, fp.f.Name), fp); err != nil {
				return err
			}
		}
		switch fp.f.Kind {
		case schema.KindLeaf:
			if err := dc.leaf(cpath, fp, ch, cop, wdDefault); err != nil {
				return err
			}
		case schema.KindLeafList:
			in, err := dc.forLeafList(elemPath(path, fp.f.Name), fp, &y)
			if err != nil {
				return err
			}
			n := len(dc.edits)
			if err := dc.leaf(cpath, fp, ch, cop, wdDefault); err != nil {
				return err
			}
			if len(dc.edits) > n {
				dc.edits[n].Insert = in
			}
		case schema.KindContainer:
			dc.edits = append(dc.edits, Edit{Path: cpath, Op: cop})
			if err := dc.walk(cpath, fp.elem, ch, cop); err != nil {
				return err
			}
		case schema.KindList:
			key, err := dc.key(path, fp, ch, cop)
			if err != nil {
				return err
			}
			cpath[len(cpath)-1] = schema.Elem{Name: fp.f.Name, KeyName: fp.elem.key.f.Name, Key: key}
			in, err := dc.forList(cpath.String(), fp, &y)
			if err != nil {
				return err
			}
			dc.edits = append(dc.edits, Edit{Path: cpath, Op: cop, Insert: in})
			if err := dc.walk(cpath, fp.elem, ch, cop); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookup finds the schema node of element ch among the children of p.
func (dc *decoder) lookup(path schema.DataPath, p *plan, ch *element) (*fieldPlan, error) {
	name := ch.name.Local
	fp := p.byName[name]
	if fp != nil && fp.ns == ch.name.Space {
		if !fp.f.Config && !dc.opts.AllowState {
			epath := elemPath(path, name)
			return nil, newError(typeApp, "unknown-element", epath, "%s is state data (config false), not configuration", epath).WithInfo("bad-element", name)
		}
		return fp, nil
	}
	where, epath := path.String(), elemPath(path, name)
	switch {
	case ch.name.Space == "":
		return nil, newError(typeApp, "unknown-namespace", epath, "element %q in %s has no namespace", name, where).WithInfo("bad-element", name, "bad-namespace", "")
	case !dc.c.namespaces[ch.name.Space]:
		return nil, newError(typeApp, "unknown-namespace", epath, "element %q in %s has the unknown namespace %q", name, where, ch.name.Space).WithInfo("bad-element", name, "bad-namespace", ch.name.Space)
	case fp == nil:
		return nil, newError(typeApp, "unknown-element", epath, "unknown element %q in %s", name, where).WithInfo("bad-element", name)
	}
	return nil, newError(typeApp, "unknown-namespace", epath, "element %q in %s has namespace %q, not %q", name, where, ch.name.Space, fp.ns).WithInfo("bad-element", name, "bad-namespace", ch.name.Space)
}

// elemPath is the path of child name of path, for errors.
func elemPath(path schema.DataPath, name string) string {
	return strings.TrimSuffix(path.String(), "/") + "/" + name
}

// attrs reads the attributes of ch: its operation (or the inherited op),
// the with-defaults default attribute, and into y those of RFC 7950
// (insert.go), which its caller checks against the node.
func (dc *decoder) attrs(path schema.DataPath, ch *element, op Operation, y *yangAttrs) (Operation, bool, error) {
	name := ch.name.Local
	wdDefault := false
	for _, a := range ch.attrs {
		if a.Name.Space != NetconfNS && a.Name.Space != YangNS && a.Name.Space != WithDefaultsNS && a.Name.Space != "" {
			continue // attributes of other namespaces are ignored
		}
		if y.read(a) {
			continue
		}
		epath := elemPath(path, name)
		switch {
		case a.Name.Space == NetconfNS && a.Name.Local == "operation":
			o, ok := parseOperation(a.Value)
			if !ok {
				return "", false, newError(typeProt, "bad-attribute", epath, "operation %q of %s is not one of merge, replace, create, delete, remove", a.Value, epath).WithInfo("bad-attribute", "operation", "bad-element", name)
			}
			op = o
		case a.Name.Space == NetconfNS:
			return "", false, newError(typeProt, "unknown-attribute", epath, "unknown NETCONF attribute %q on %s", a.Name.Local, epath).WithInfo("bad-attribute", a.Name.Local, "bad-element", name)
		case a.Name.Space == "" && a.Name.Local == "insert":
			return "", false, newError(typeApp, "bad-attribute", epath, "the insert attribute of %s is not in the YANG namespace %s", epath, YangNS).WithInfo("bad-attribute", "insert", "bad-element", name)
		case a.Name.Space == "" && a.Name.Local == "operation":
			return "", false, newError(typeProt, "bad-attribute", epath, "the operation attribute of %s is not in the NETCONF namespace %s", epath, NetconfNS).WithInfo("bad-attribute", "operation", "bad-element", name)
		case a.Name.Space == WithDefaultsNS && a.Name.Local == "default":
			wdDefault = a.Value == "true" || a.Value == "1"
		}
		// Other unqualified attributes are ignored; an unqualified
		// operation or insert is an error, as ignoring it would change
		// what the request does.
	}
	return op, wdDefault, nil
}

// leaf adds the edit of a leaf or leaf-list element.
func (dc *decoder) leaf(path schema.DataPath, fp *fieldPlan, ch *element, op Operation, wdDefault bool) error {
	name := fp.f.Name
	if len(ch.children) > 0 {
		return newError(typeApp, "bad-element", path.String(), "%s is a leaf and cannot have child elements", path).WithInfo("bad-element", name)
	}
	text := string(ch.text)
	if fp.f.Kind == schema.KindLeaf && (op == OpDelete || op == OpRemove) {
		dc.edits = append(dc.edits, Edit{Path: path, Op: op})
		return nil
	}
	v, err := dc.value(fp, text)
	if err != nil {
		return dc.valueError(path, fp, err)
	}
	if wdDefault && fp.f.Kind == schema.KindLeaf {
		// RFC 6243 §4.5.2: the leaf is set to its default, which it takes
		// when it is not set.
		if !fp.hasDflt || v != fp.dflt {
			return newError(typeApp, "invalid-value", path.String(), "%s is tagged wd:default but is not its default value", path).WithInfo("bad-element", name)
		}
		if op == "" || op.creates() {
			op = OpRemove
		}
	}
	dc.edits = append(dc.edits, Edit{Path: path, Op: op, Value: v})
	return nil
}

// value parses the text of leaf fp and returns its canonical form; its
// error is a plain error that valueError turns into an *rpcerr.Error.
func (dc *decoder) value(fp *fieldPlan, text string) (string, error) {
	if fp.trim {
		text = strings.TrimSpace(text)
	}
	v, err := dc.c.s.ParseValue(fp.f, text)
	if err != nil {
		return "", err
	}
	str, _ := dc.c.s.Format(v)
	return str, nil
}

// valueError is the invalid-value error of leaf fp at path.
func (dc *decoder) valueError(path schema.DataPath, fp *fieldPlan, err error) *rpcerr.Error {
	msg := err.Error()
	if fp.secret {
		msg = "the value is not valid" // never echo a secret
	}
	return newError(typeApp, "invalid-value", path.String(), "invalid value for %s: %s", path, msg).WithInfo("bad-element", fp.f.Name)
}

// key returns the canonical key of list entry element ch, checking the
// key elements wherever they stand among its children.
func (dc *decoder) key(path schema.DataPath, fp *fieldPlan, ch *element, op Operation) (string, error) {
	// Paths for errors only: built when needed.
	lpath := func() schema.DataPath { return path.Child(schema.Elem{Name: fp.f.Name}) }
	kpath := func() schema.DataPath { return lpath().Child(schema.Elem{Name: fp.elem.key.f.Name}) }
	kp := fp.elem.key
	key, found := "", false
	for _, k := range ch.children {
		if k.name.Local != kp.f.Name {
			continue
		}
		if k.name.Space != kp.ns {
			_, err := dc.lookup(lpath(), fp.elem, k)
			return "", err // a key in the wrong namespace
		}
		if len(k.children) > 0 {
			return "", newError(typeApp, "bad-element", kpath().String(), "%s is a leaf and cannot have child elements", kpath()).WithInfo("bad-element", kp.f.Name)
		}
		if len(k.attrs) > 0 {
			var y yangAttrs
			kop, _, err := dc.attrs(lpath(), k, op, &y)
			if err != nil {
				return "", err
			}
			if err := y.forNonList(kpath().String(), kp); err != nil {
				return "", err
			}
			if kop != op {
				return "", newError(typeProt, "bad-attribute", kpath().String(), "the key %s cannot have an operation other than its list entry's", kpath()).WithInfo("bad-attribute", "operation", "bad-element", kp.f.Name)
			}
		}
		v, err := dc.value(kp, string(k.text))
		if err != nil {
			return "", dc.valueError(kpath(), kp, err)
		}
		if found && v != key {
			return "", newError(typeApp, "bad-element", lpath().String(), "entry of %s has two keys %s, %q and %q", lpath(), kp.f.Name, key, v).WithInfo("bad-element", kp.f.Name)
		}
		key, found = v, true
	}
	if !found {
		return "", newError(typeApp, "missing-element", lpath().String(), "entry of %s has no key %s", lpath(), kp.f.Name).WithInfo("bad-element", kp.f.Name)
	}
	return key, nil
}
