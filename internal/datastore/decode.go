package datastore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"

	"secgw/generated"
	"secgw/internal/schema"
)

// decodeConfig parses what encodeConfig wrote. Unknown nodes are an error:
// a file from a newer model must not be half-loaded.
func decodeConfig(s *schema.Schema, data []byte) (*generated.Device, uint64, error) {
	d, commit, _, err := decodeSnapshot(s, data, false)
	return d, commit, err
}

// decodeSnapshot is decodeConfig that also returns the pending confirmed
// commit the snapshot holds (nil: none). With share, equal small
// containers are one struct (share.go): for running, whose nodes are
// never written into.
//
// The configuration is decoded straight into the tree, in one pass over
// the bytes (scanner): a restart with a large configuration pays neither
// for a generic JSON tree (maps of interfaces, every value boxed) nor
// for a second scan of the data. The other members of the file are few
// and small, and go through encoding/json.
func decodeSnapshot(s *schema.Schema, data []byte, share bool) (*generated.Device, uint64, *pendingConfirm, error) {
	sc := &scanner{b: data}
	if share {
		sc.containers = &containerSharing{}
	}
	var f fileForm
	d := &generated.Device{}
	sawData := false
	err := sc.object(func(name string) error {
		switch name {
		case "data":
			sawData = true
			return decodeObject(s, sc, s.RootNode(d), "")
		case "format":
			return sc.unmarshal(&f.Format)
		case "commit":
			return sc.unmarshal(&f.Commit)
		case "confirm":
			return sc.unmarshal(&f.Confirm)
		}
		return sc.skip()
	})
	if err == nil {
		err = sc.end()
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if f.Format != formatName {
		return nil, 0, nil, fmt.Errorf("datastore: unknown format %q", f.Format)
	}
	if !sawData {
		return nil, 0, nil, fmt.Errorf("datastore: no data")
	}
	var c *pendingConfirm
	if f.Confirm != nil {
		c = &pendingConfirm{undo: f.Confirm.Undo}
	}
	return d, f.Commit, c, nil
}

// decodeNodeJSON decodes the JSON object data into node n at path; the
// member named skip (a list entry's key, which the entry has already) is
// left out.
func decodeNodeJSON(s *schema.Schema, n schema.Node, data []byte, path schema.DataPath, skip string) error {
	sc := &scanner{b: data, base: path}
	if err := decodeObject(s, sc, n, skip); err != nil {
		return err
	}
	return sc.end()
}

// path renders the path of the node being decoded, for error messages.
func (sc *scanner) path() schema.DataPath {
	return append(append(schema.DataPath{}, sc.base...), sc.at...)
}

// decodeObject decodes the object at the scanner into node n at the
// scanner's path: every member a configuration node of n's, every leaf
// value a string.
func decodeObject(s *schema.Schema, sc *scanner, n schema.Node, skip string) error {
	return sc.object(func(name string) error {
		path := sc.path
		if name == skip {
			return sc.skip()
		}
		f := n.B.Field(name)
		if f == nil || !f.Config {
			return fmt.Errorf("datastore: %s: unknown node %q", path(), name)
		}
		switch f.Kind {
		case schema.KindLeaf:
			str, err := sc.str()
			if err != nil {
				return fmt.Errorf("datastore: %s/%s: %w", path(), name, err)
			}
			v, err := sc.leafValue(s, f, str)
			if err != nil {
				return fmt.Errorf("datastore: %s/%s: %w", path(), name, err)
			}
			n.SetLeafValue(f, v)
		case schema.KindLeafList:
			return sc.array(func() error {
				v, err := sc.str()
				if err == nil {
					err = n.SetLeaf(s, f, v)
				}
				if err != nil {
					return fmt.Errorf("datastore: %s/%s: %w", path(), name, err)
				}
				return nil
			})
		case schema.KindContainer:
			if sc.containers == nil {
				c, _ := n.Container(f, true)
				return sc.within(schema.Elem{Name: name}, func() error { return decodeObject(s, sc, c, "") })
			}
			if sc.sharedContainer(n, f) {
				return nil
			}
			// A container named twice in one object (a damaged file)
			// is merged into a copy, and its text is not its content.
			fresh := unshareContainer(n, f)
			c, _ := n.Container(f, true)
			start := sc.i
			if err := sc.within(schema.Elem{Name: name}, func() error { return decodeObject(s, sc, c, "") }); err != nil {
				return err
			}
			if fresh {
				sc.shareContainer(n, f, sc.b[start:sc.i])
			}
		case schema.KindList:
			keyName := schema.KeyNames(f.Entry)[0]
			return sc.array(func() error {
				key, err := sc.peekMember(keyName)
				if err != nil {
					return fmt.Errorf("datastore: %s/%s: %w", path(), name, err)
				}
				e, _, err := n.Entry(s, f, key, true)
				if err != nil {
					return fmt.Errorf("datastore: %s/%s: %w", path(), name, err)
				}
				return sc.within(schema.Elem{Name: name, KeyName: keyName, Key: key}, func() error { return decodeObject(s, sc, e, keyName) })
			})
		}
		return nil
	})
}

// within runs fn with e pushed on the scanner's path.
func (sc *scanner) within(e schema.Elem, fn func() error) error {
	sc.at = append(sc.at, e)
	err := fn()
	sc.at = sc.at[:len(sc.at)-1]
	return err
}

// scanner reads the JSON of the on-disk form: objects, arrays and strings
// are parsed here; any other value is only skipped over, or handed to
// encoding/json (unmarshal).
type scanner struct {
	b []byte
	i int
	// base and at are the path of the node being decoded, for error
	// messages: where the decoded object lies, and the steps taken in
	// it, pushed and popped as the decoder goes down and up (a stack
	// reused by every node, rather than a step allocated for each).
	base schema.DataPath
	at   []schema.Elem
	// seen interns the strings read: the member names, which need no
	// allocation once seen, and the values that repeat (a template's
	// name, a local address, identity or prefix in every VPN), which
	// the tree then holds once. Bounded: a large configuration's many
	// distinct values (names, peer addresses) would only grow it.
	seen map[string]string
	// values holds the parsed values of the leaves whose lexical value
	// is in seen: the leaves with a repeated value then share it (one
	// pointer, one string), which they may, as a leaf's value is
	// replaced, never written into (schema.Node.SetLeafValue).
	values map[leafText]reflect.Value
	// containers, when set, shares equal containers (share.go).
	containers *containerSharing
}

// leafText is a leaf and a lexical value of it.
type leafText struct {
	f   *schema.Field
	str string
}

// leafValue parses str, the value of leaf f; a value seen before (while
// seen has room) is parsed once.
func (sc *scanner) leafValue(s *schema.Schema, f *schema.Field, str string) (reflect.Value, error) {
	k := leafText{f, str}
	if v, ok := sc.values[k]; ok {
		return v, nil
	}
	v, err := s.ParseValue(f, str)
	if err != nil {
		return v, err
	}
	if len(sc.values) < maxInterned {
		if _, interned := sc.seen[str]; interned {
			if sc.values == nil {
				sc.values = make(map[leafText]reflect.Value, 256)
			}
			sc.values[k] = v
		}
	}
	return v, nil
}

// maxInterned bounds scanner.seen. The member names and the values that
// repeat come early in a configuration (its first VPNs).
const maxInterned = 4096

// intern returns b as a string, the same one for the same bytes while
// seen has room.
func (sc *scanner) intern(b []byte) string {
	if v, ok := sc.seen[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(sc.seen) < maxInterned {
		if sc.seen == nil {
			sc.seen = make(map[string]string, 256)
		}
		sc.seen[v] = v
	}
	return v
}

func (sc *scanner) errorf(format string, a ...any) error {
	return fmt.Errorf("datastore: offset %d: "+format, append([]any{sc.i}, a...)...)
}

func (sc *scanner) ws() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte (0 at the end).
func (sc *scanner) next() byte {
	sc.ws()
	if sc.i < len(sc.b) {
		return sc.b[sc.i]
	}
	return 0
}

func (sc *scanner) expect(c byte) error {
	if sc.next() != c {
		return sc.errorf("want %q", c)
	}
	sc.i++
	return nil
}

// end checks that nothing but white space follows.
func (sc *scanner) end() error {
	if sc.next() != 0 {
		return sc.errorf("data after the end")
	}
	return nil
}

// object calls member for every member of the object at the scanner,
// which must read the member's value.
func (sc *scanner) object(member func(name string) error) error {
	if err := sc.expect('{'); err != nil {
		return err
	}
	if sc.next() == '}' {
		sc.i++
		return nil
	}
	for {
		name, err := sc.str()
		if err != nil {
			return err
		}
		if err := sc.expect(':'); err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
		switch sc.next() {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return nil
		default:
			return sc.errorf("want , or }")
		}
	}
}

// array calls elem for every element of the array at the scanner, which
// must read the element.
func (sc *scanner) array(elem func() error) error {
	if err := sc.expect('['); err != nil {
		return err
	}
	if sc.next() == ']' {
		sc.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch sc.next() {
		case ',':
			sc.i++
		case ']':
			sc.i++
			return nil
		default:
			return sc.errorf("want , or ]")
		}
	}
}

// str reads a string. One without escapes (every name, nearly every
// value) is a copy of its bytes; one with escapes goes through
// encoding/json.
func (sc *scanner) str() (string, error) {
	if sc.next() != '"' {
		return "", sc.errorf("want a string")
	}
	start := sc.i
	escaped := false
	for j := start + 1; j < len(sc.b); j++ {
		switch sc.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			sc.i = j + 1
			// The stored configuration was written from committed
			// values, which are UTF-8 (XML, RFC 7950 §9.4); other
			// bytes mean a damaged file, and encoding/json would turn
			// them into U+FFFD, another value than the one read.
			if !utf8.Valid(sc.b[start+1 : j]) {
				return "", sc.errorf("string is not UTF-8")
			}
			if !escaped {
				return sc.intern(sc.b[start+1 : j]), nil
			}
			var v string
			if err := json.Unmarshal(sc.b[start:j+1], &v); err != nil {
				return "", sc.errorf("%v", err)
			}
			return v, nil
		}
	}
	return "", sc.errorf("unterminated string")
}

// skip passes over one value of any kind.
func (sc *scanner) skip() error {
	switch c := sc.next(); c {
	case '"':
		return sc.skipStr()
	case '{':
		return sc.object(func(string) error { return sc.skip() })
	case '[':
		return sc.array(sc.skip)
	case 0:
		return sc.errorf("unexpected end")
	}
	// A number, true, false or null: up to the next delimiter.
	start := sc.i
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if sc.i == start {
				return sc.errorf("want a value")
			}
			return nil
		}
		sc.i++
	}
	return nil
}

// skipStr passes over the string at the scanner as str would read it,
// without making it: a list entry's key, which the decoder read before
// (peekMember), is skipped in every entry.
func (sc *scanner) skipStr() error {
	start := sc.i
	for j := start + 1; j < len(sc.b); j++ {
		switch sc.b[j] {
		case '\\':
			_, err := sc.str() // escapes: checked by str
			return err
		case '"':
			sc.i = j + 1
			return nil
		}
	}
	return sc.errorf("unterminated string")
}

// unmarshal decodes one value of any kind into v with encoding/json.
func (sc *scanner) unmarshal(v any) error {
	sc.ws()
	start := sc.i
	if err := sc.skip(); err != nil {
		return err
	}
	if err := json.Unmarshal(sc.b[start:sc.i], v); err != nil {
		return sc.errorf("%v", err)
	}
	return nil
}

// peekMember returns the string value of member name of the object at
// the scanner, without moving: a list entry's key, which must be known
// before the entry is made. The encoder writes it first, where it is
// found at once; elsewhere the object is scanned for it.
// errFound stops peekMember's scan of an object at the member it looks
// for: made once, not for every list entry.
var errFound = errors.New("found")

func (sc *scanner) peekMember(name string) (string, error) {
	save := sc.i
	defer func() { sc.i = save }()
	var key string
	found := false
	err := sc.object(func(m string) error {
		if m != name {
			return sc.skip()
		}
		v, err := sc.str()
		if err != nil {
			return err
		}
		key, found = v, true
		return errFound
	})
	switch {
	case found:
		return key, nil
	case err != nil:
		return "", err
	}
	return "", fmt.Errorf("entry without %s", name)
}
