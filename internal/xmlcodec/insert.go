package xmlcodec

import (
	"encoding/xml"
	"strings"

	"secgw/internal/schema"
)

// The insert attribute (RFC 7950 §7.8.6, §7.7.9). An <edit-config>
// places an entry of an ordered-by user list with yang:insert="first",
// "last", "before" or "after"; before and after name the entry it goes
// next to with yang:key, the key predicates of that entry's instance
// identifier ("[name='r1']"). A value of an ordered-by user leaf-list is
// placed the same way, yang:value naming the value it goes next to.
// Without the attribute a new entry or value goes last and an existing
// one stays where it is.

// Insert is where an edit of an entry of an ordered-by user list puts it.
type Insert struct {
	// Set says the element had an insert attribute; the others are then
	// meaningful.
	Set bool
	// Where is the position named by the attribute.
	Where schema.Position
	// Anchor is, for Before and After, the canonical key value of the
	// entry that yang:key names, or for a leaf-list the canonical value
	// that yang:value names.
	Anchor string
}

// yangAttrs are the RFC 7950 attributes of one element.
type yangAttrs struct {
	insert, key, value          string
	hasInsert, hasKey, hasValue bool
	other                       string // the name of another attribute in YangNS
}

// read collects attribute a if it is one of RFC 7950's; it reports
// whether it was.
func (y *yangAttrs) read(a xml.Attr) bool {
	switch {
	case a.Name.Space == YangNS && a.Name.Local == "insert":
		y.insert, y.hasInsert = a.Value, true
	case a.Name.Space == YangNS && a.Name.Local == "key":
		y.key, y.hasKey = a.Value, true
	case a.Name.Space == YangNS && a.Name.Local == "value":
		y.value, y.hasValue = a.Value, true
	case a.Name.Space == YangNS:
		y.other = a.Name.Local
	default:
		return false
	}
	return true
}

// any reports whether the element had one of RFC 7950's attributes.
func (y *yangAttrs) any() bool { return y.hasInsert || y.hasKey || y.hasValue || y.other != "" }

// forNonList refuses RFC 7950's attributes on a container or a leaf,
// which have no position to give.
func (y *yangAttrs) forNonList(epath string, fp *fieldPlan) error {
	if !y.any() {
		return nil
	}
	name := y.name()
	return newError(typeApp, "bad-attribute", epath, "the %s attribute of %s applies to an ordered-by user list or leaf-list only", name, epath).WithInfo("bad-attribute", name, "bad-element", fp.f.Name)
}

// name is the name of the first RFC 7950 attribute read, for errors.
func (y *yangAttrs) name() string {
	switch {
	case y.hasInsert:
		return "insert"
	case y.hasKey:
		return "key"
	case y.hasValue:
		return "value"
	}
	return y.other
}

// forList checks RFC 7950's attributes of an entry element of list fp
// and returns where they put it. The errors are those of RFC 6241
// appendix A: an insert attribute on a list that is not ordered-by user,
// or whose value is not one of the four, is bad-attribute; before or
// after without a key attribute is missing-attribute; a key attribute
// that is not the list's key predicate is bad-attribute.
func (dc *decoder) forList(epath string, fp *fieldPlan, y *yangAttrs) (Insert, error) {
	name := fp.f.Name
	if y.other != "" || y.hasValue {
		other := y.other
		if y.hasValue {
			other = "value"
		}
		return Insert{}, newError(typeApp, "unknown-attribute", epath, "the %s attribute does not apply to a list entry (%s)", other, epath).WithInfo("bad-attribute", other, "bad-element", name)
	}
	if !y.hasInsert {
		return Insert{}, nil // a key attribute alone says nothing
	}
	in, err := y.position(epath, name, "list", fp.f.Ordered)
	if err != nil || !in.anchored() {
		return in, err
	}
	if !y.hasKey {
		return Insert{}, newError(typeApp, "missing-attribute", epath, "insert %q of %s needs a key attribute naming the entry", y.insert, epath).WithInfo("bad-attribute", "key", "bad-element", name)
	}
	kp := fp.elem.key
	text, ok := keyPredicate(y.key, kp.f.Name)
	if ok {
		v, err := dc.value(kp, text)
		if err == nil {
			in.Anchor = v
			return in, nil
		}
	}
	return Insert{}, newError(typeApp, "bad-attribute", epath, "key attribute %q of %s is not a key predicate [%s='value'] of the list", y.key, epath, kp.f.Name).WithInfo("bad-attribute", "key", "bad-element", name)
}

// forLeafList is forList for a value of leaf-list fp: yang:value names
// the value that before and after refer to (RFC 7950 §7.7.9).
func (dc *decoder) forLeafList(epath string, fp *fieldPlan, y *yangAttrs) (Insert, error) {
	name := fp.f.Name
	if y.other != "" || y.hasKey {
		other := y.other
		if y.hasKey {
			other = "key"
		}
		return Insert{}, newError(typeApp, "unknown-attribute", epath, "the %s attribute does not apply to a leaf-list value (%s)", other, epath).WithInfo("bad-attribute", other, "bad-element", name)
	}
	if !y.hasInsert {
		return Insert{}, nil
	}
	in, err := y.position(epath, name, "leaf-list", fp.f.Ordered)
	if err != nil || !in.anchored() {
		return in, err
	}
	if !y.hasValue {
		return Insert{}, newError(typeApp, "missing-attribute", epath, "insert %q of %s needs a value attribute naming the value", y.insert, epath).WithInfo("bad-attribute", "value", "bad-element", name)
	}
	v, verr := dc.value(fp, y.value)
	if verr != nil {
		return Insert{}, newError(typeApp, "bad-attribute", epath, "value attribute of %s: not a value of %s", epath, name).WithInfo("bad-attribute", "value", "bad-element", name)
	}
	in.Anchor = v
	return in, nil
}

// keyPredicate reads the key predicate of a single-key list, as in an
// instance identifier (RFC 7950 §9.13: "[name='x']", a prefix allowed
// before the name, either quote around the value, spaces around '=' and
// inside the brackets), and returns the value when the key is keyName.
func keyPredicate(s, keyName string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return "", false
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	eq := strings.IndexByte(s, '=')
	if eq < 0 {
		return "", false
	}
	n := strings.TrimSpace(s[:eq])
	if i := strings.IndexByte(n, ':'); i >= 0 {
		n = n[i+1:]
	}
	v := strings.TrimSpace(s[eq+1:])
	if n != keyName || len(v) < 2 || (v[0] != '\'' && v[0] != '"') || v[len(v)-1] != v[0] {
		return "", false
	}
	q, inner := v[0], v[1:len(v)-1]
	if strings.IndexByte(inner, q) >= 0 {
		return "", false // the closing quote inside the value
	}
	return inner, true
}

// position reads the insert attribute of an entry of an ordered-by user
// kind ("list" or "leaf-list") named name.
func (y *yangAttrs) position(epath, name, kind string, ordered bool) (Insert, error) {
	if !ordered {
		return Insert{}, newError(typeApp, "bad-attribute", epath, "insert on %s: the %s is not ordered-by user", epath, kind).WithInfo("bad-attribute", "insert", "bad-element", name)
	}
	where, ok := schema.ParsePosition(y.insert)
	if !ok {
		return Insert{}, newError(typeApp, "bad-attribute", epath, "insert %q of %s is not one of first, last, before, after", y.insert, epath).WithInfo("bad-attribute", "insert", "bad-element", name)
	}
	return Insert{Set: true, Where: where}, nil
}

// anchored reports whether the position needs an anchor (before, after).
func (in Insert) anchored() bool { return in.Where == schema.Before || in.Where == schema.After }
