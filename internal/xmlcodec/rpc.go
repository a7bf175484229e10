package xmlcodec

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// The input and output of the model's RPCs and the content of its
// notifications are not configuration: no generated struct holds them. A
// subsystem's typed API names their nodes with `yang:"name"` struct tags
// instead, and DecodeInput, AppendOutput and AppendNotification walk the
// RPC's or notification's statement in the schema to read and write them:
//
//   - a container is a struct, or a pointer to one (nil: absent);
//   - a leaf is a string, a bool or an integer, or a pointer to one
//     (nil: absent; a plain value is always written);
//   - a leaf-list is a slice of those.
//
// Choices and cases are looked through, as in the data tree. One Go type
// may serve RPCs whose inputs differ by a node: a tag that names no node
// of an input is not read. In an output or a notification it is a
// programming error, reported as operation-failed.

// DecodeInput reads the input of RPC rpc into in, a pointer to a struct:
// body is the RPC element as received, whose children are qualified by
// the RPC's module namespace (or by none, as sloppy clients send them).
// An element the schema does not have is unknown-element; a value that
// does not fit its type (an integer out of range, an enum it does not
// name) is invalid-value; nodes in the schema that in does not name are
// not read. Mandatory nodes and choices are the handler's to check: it
// says what is missing in its words.
func DecodeInput(rpc *yang.Entry, body []byte, in any) error {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("xmlcodec: input of %s: %T is not a pointer to a struct", rpc.Name, in)
	}
	if rpc.RPC == nil {
		return fmt.Errorf("xmlcodec: %s is not an RPC", rpc.Name)
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return newError(typeRPC, "malformed-message", "", "malformed %s input: %v", rpc.Name, err)
		}
		if _, ok := tok.(xml.StartElement); ok {
			break
		}
	}
	r := rpcReader{dec: dec, ns: rpc.Namespace().Name}
	input := rpc.RPC.Input
	if input == nil {
		input = &yang.Entry{Name: "input", Dir: map[string]*yang.Entry{}}
	}
	return r.children(input, v.Elem(), "/"+rpc.Name)
}

// rpcReader reads the elements of an RPC's input.
type rpcReader struct {
	dec *xml.Decoder
	ns  string
}

// children reads the child elements of e, up to e's end tag, into the
// struct v.
func (r *rpcReader) children(e *yang.Entry, v reflect.Value, path string) error {
	fields, _ := taggedFields(v.Type(), e, false)
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return newError(typeRPC, "malformed-message", path, "malformed input at %s: %v", path, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			name := t.Name.Local
			if t.Name.Space != r.ns && t.Name.Space != "" {
				return newError(typeProt, "unknown-namespace", path, "element %s in namespace %s is not in %s", name, t.Name.Space, path).
					WithInfo("bad-element", name, "bad-namespace", t.Name.Space)
			}
			ch := schema.Child(e, name)
			if ch == nil {
				return newError(typeProt, "unknown-element", path+"/"+name, "unknown element %q in %s", name, path).
					WithInfo("bad-element", name)
			}
			i, ok := fields[name]
			if !ok {
				if err := r.dec.Skip(); err != nil {
					return newError(typeRPC, "malformed-message", path, "malformed input at %s: %v", path, err)
				}
				continue
			}
			f := v.Field(i)
			if ch.IsDir() {
				if f.Kind() == reflect.Pointer {
					if f.IsNil() {
						f.Set(reflect.New(f.Type().Elem()))
					}
					f = f.Elem()
				}
				if err := r.children(ch, f, path+"/"+name); err != nil {
					return err
				}
				continue
			}
			text, err := r.text(path + "/" + name)
			if err != nil {
				return err
			}
			if err := setLeaf(f, ch, text); err != nil {
				return newError(typeApp, "invalid-value", path+"/"+name, "%s: %v", path+"/"+name, err).WithInfo("bad-element", name)
			}
		}
	}
}

// text reads the character data of a leaf element, up to its end tag.
func (r *rpcReader) text(path string) (string, error) {
	var b strings.Builder
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return "", newError(typeRPC, "malformed-message", path, "malformed input at %s: %v", path, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", newError(typeProt, "bad-element", path, "%s is a leaf: it has no element %s", path, t.Name.Local).
				WithInfo("bad-element", t.Name.Local)
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

// setLeaf parses text as the value of leaf (or leaf-list) e into f.
func setLeaf(f reflect.Value, e *yang.Entry, text string) error {
	if e.Type != nil && e.Type.Kind != yang.Ystring {
		text = strings.TrimSpace(text)
	}
	if e.Type != nil && e.Type.Kind == yang.Yenum && !e.Type.Enum.IsDefined(text) {
		return fmt.Errorf("%q is not one of %s", text, strings.Join(e.Type.Enum.Names(), ", "))
	}
	dst := f
	switch f.Kind() {
	case reflect.Pointer:
		dst = reflect.New(f.Type().Elem()).Elem()
	case reflect.Slice:
		dst = reflect.New(f.Type().Elem()).Elem()
	}
	switch dst.Kind() {
	case reflect.String:
		dst.SetString(text)
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil || (text != "true" && text != "false") {
			return fmt.Errorf("%q is not true or false", text)
		}
		dst.SetBool(b)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(text, 10, dst.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer in range", text)
		}
		dst.SetUint(n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, dst.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer in range", text)
		}
		dst.SetInt(n)
	default:
		return fmt.Errorf("no Go value for %s (%s)", e.Name, dst.Type())
	}
	switch f.Kind() {
	case reflect.Pointer:
		f.Set(dst.Addr())
	case reflect.Slice:
		f.Set(reflect.Append(f, dst))
	}
	return nil
}

// AppendOutput appends out, a struct or a pointer to one, as the content
// of the rpc-reply of RPC rpc: the nodes of its output statement in the
// order of the YANG statements, each top-level element declaring the
// RPC's module namespace.
func AppendOutput(dst []byte, rpc *yang.Entry, out any) ([]byte, error) {
	if rpc.RPC == nil || rpc.RPC.Output == nil {
		return dst, nil
	}
	w := rpcWriter{b: dst, ns: rpc.Namespace().Name}
	err := w.children(rpc.RPC.Output, reflect.ValueOf(out), true)
	return w.b, err
}

// AppendNotification appends the element of notification n (a schema
// entry of kind NotificationEntry) with its content v, a struct or a
// pointer to one, declaring the notification's module namespace: the
// body of a <notification> after its eventTime (RFC 5277 §4).
func AppendNotification(dst []byte, n *yang.Entry, v any) ([]byte, error) {
	if n.Kind != yang.NotificationEntry {
		return dst, fmt.Errorf("xmlcodec: %s is not a notification", n.Name)
	}
	w := rpcWriter{b: dst, ns: n.Namespace().Name}
	w.b = append(w.b, '<')
	w.b = append(w.b, n.Name...)
	w.attr("xmlns", w.ns)
	w.b = append(w.b, '>')
	if err := w.children(n, reflect.ValueOf(v), false); err != nil {
		return dst, err
	}
	w.b = append(w.b, "</"...)
	w.b = append(w.b, n.Name...)
	w.b = append(w.b, '>')
	return w.b, nil
}

// rpcWriter writes the values of an RPC's output or a notification.
type rpcWriter struct {
	b  []byte
	ns string
}

// children writes the nodes of e that v (a struct, or a pointer to one)
// names, in statement order; qualify declares the namespace on each.
func (w *rpcWriter) children(e *yang.Entry, v reflect.Value, qualify bool) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return fmt.Errorf("xmlcodec: %s: %s is not a struct", e.Name, v.Type())
	}
	fields, err := taggedFields(v.Type(), e, true)
	if err != nil {
		return err
	}
	order := StatementOrder(e)
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	for _, name := range names {
		ch := schema.Child(e, name)
		f := v.Field(fields[name])
		switch {
		case ch.IsDir():
			if f.Kind() == reflect.Pointer && f.IsNil() {
				continue
			}
			w.open(name, qualify)
			if err := w.children(ch, f, false); err != nil {
				return err
			}
			w.close(name)
		case f.Kind() == reflect.Slice:
			for i := 0; i < f.Len(); i++ {
				if err := w.leaf(name, f.Index(i), qualify); err != nil {
					return err
				}
			}
		case f.Kind() == reflect.Pointer:
			if !f.IsNil() {
				if err := w.leaf(name, f.Elem(), qualify); err != nil {
					return err
				}
			}
		default:
			if err := w.leaf(name, f, qualify); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *rpcWriter) open(name string, qualify bool) {
	w.b = append(w.b, '<')
	w.b = append(w.b, name...)
	if qualify {
		w.attr("xmlns", w.ns)
	}
	w.b = append(w.b, '>')
}

func (w *rpcWriter) close(name string) {
	w.b = append(w.b, "</"...)
	w.b = append(w.b, name...)
	w.b = append(w.b, '>')
}

func (w *rpcWriter) attr(name, value string) {
	w.b = append(w.b, ' ')
	w.b = append(w.b, name...)
	w.b = append(w.b, `="`...)
	w.escape(value)
	w.b = append(w.b, '"')
}

// escape appends s escaped as encoding/xml escapes text.
func (w *rpcWriter) escape(s string) {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(s))
	w.b = append(w.b, buf.Bytes()...)
}

// leaf writes one leaf (or leaf-list entry) element with its value.
func (w *rpcWriter) leaf(name string, v reflect.Value, qualify bool) error {
	var text string
	switch v.Kind() {
	case reflect.String:
		text = v.String()
	case reflect.Bool:
		text = strconv.FormatBool(v.Bool())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		text = strconv.FormatUint(v.Uint(), 10)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		text = strconv.FormatInt(v.Int(), 10)
	default:
		return fmt.Errorf("xmlcodec: leaf %s: no text for a %s", name, v.Type())
	}
	w.open(name, qualify)
	w.escape(text)
	w.close(name)
	return nil
}

// taggedFields maps the node names of the `yang` tags of struct type t to
// their field indexes, leaving out the nodes e does not have, an error
// if strict.
func taggedFields(t reflect.Type, e *yang.Entry, strict bool) (map[string]int, error) {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, ok := t.Field(i).Tag.Lookup("yang")
		if !ok {
			continue
		}
		if schema.Child(e, name) == nil {
			if !strict {
				continue
			}
			return nil, &rpcerr.Error{Source: "xmlcodec", Type: typeApp, Tag: "operation-failed",
				Message: fmt.Sprintf("%s.%s names %s, which %s does not have", t, t.Field(i).Name, name, e.Name)}
		}
		out[name] = i
	}
	return out, nil
}
