package schema

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/generated"
)

// ParseValue converts the lexical form s of a value of the leaf or leaf-list
// f into the Go value its generated field holds: for a leaf, the value to
// store in the field (a pointer, an enum or a union); for a leaf-list, one
// element. It checks the lexical space of the YANG type (a number, an enum
// name, a boolean); ranges, lengths and patterns are the validator's job.
func (s *Schema) ParseValue(f *Field, str string) (reflect.Value, error) {
	t := f.Type
	if f.Kind == KindLeafList {
		t = t.Elem()
	}
	return s.parseInto(f, f.Entry.Type, t, str)
}

func (s *Schema) parseInto(f *Field, yt *yang.YangType, t reflect.Type, str string) (reflect.Value, error) {
	switch {
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if et := t.Elem(); et.Kind() != reflect.Interface && s.binding.enumValues[et] == nil {
			// A scalar is parsed into the new value itself, not into
			// a value of its own then copied: a tree decoded with 100k
			// VPNs dropped a million of those, and the leaves they were
			// allocated among were left in half-empty pages.
			if err := parseScalarInto(yt, p.Elem(), str); err != nil {
				return reflect.Value{}, err
			}
			return p, nil
		}
		v, err := s.parseInto(f, yt, t.Elem(), str)
		if err != nil {
			return reflect.Value{}, err
		}
		p.Elem().Set(v)
		return p, nil
	case t.Kind() == reflect.Interface:
		return s.parseUnion(f, yt, t, str)
	case t.Kind() == reflect.Int64 && s.binding.enumValues[t] != nil:
		n, ok := s.binding.enumValues[t][str]
		if !ok {
			return reflect.Value{}, fmt.Errorf("%q is not one of %s", str, strings.Join(s.EnumNames(t), ", "))
		}
		return reflect.ValueOf(n).Convert(t), nil
	}
	return parseScalar(yt, t, str)
}

// parseUnion tries the member types in schema order (RFC 7950 §9.12: the
// first member type that accepts the value wins).
func (s *Schema) parseUnion(f *Field, yt *yang.YangType, t reflect.Type, str string) (reflect.Value, error) {
	var errs []string
	for _, m := range flattenUnion(yt) {
		var v reflect.Value
		var err error
		if m.Kind == yang.Yenum || m.Kind == yang.Yidentityref {
			for _, et := range f.enums {
				if n, ok := s.binding.enumValues[et][str]; ok {
					v = reflect.ValueOf(n).Convert(et)
					break
				}
			}
			if !v.IsValid() {
				err = fmt.Errorf("not an enum value")
			}
		} else {
			wt, ok := unionWrapper[m.Kind]
			if !ok {
				continue
			}
			v, err = parseScalar(m, wt, str)
		}
		if err == nil && v.Type().Implements(t) {
			out := reflect.New(t).Elem()
			out.Set(v)
			return out, nil
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	return reflect.Value{}, fmt.Errorf("%q matches none of the types of the union", str)
}

func flattenUnion(yt *yang.YangType) []*yang.YangType {
	if yt.Kind != yang.Yunion {
		return []*yang.YangType{yt}
	}
	var out []*yang.YangType
	for _, m := range yt.Type {
		out = append(out, flattenUnion(m)...)
	}
	return out
}

var unionWrapper = map[yang.TypeKind]reflect.Type{
	yang.Yint8:      reflect.TypeOf(generated.UnionInt8(0)),
	yang.Yint16:     reflect.TypeOf(generated.UnionInt16(0)),
	yang.Yint32:     reflect.TypeOf(generated.UnionInt32(0)),
	yang.Yint64:     reflect.TypeOf(generated.UnionInt64(0)),
	yang.Yuint8:     reflect.TypeOf(generated.UnionUint8(0)),
	yang.Yuint16:    reflect.TypeOf(generated.UnionUint16(0)),
	yang.Yuint32:    reflect.TypeOf(generated.UnionUint32(0)),
	yang.Yuint64:    reflect.TypeOf(generated.UnionUint64(0)),
	yang.Ydecimal64: reflect.TypeOf(generated.UnionFloat64(0)),
	yang.Ystring:    reflect.TypeOf(generated.UnionString("")),
	yang.Ybool:      reflect.TypeOf(generated.UnionBool(false)),
}

func parseScalar(yt *yang.YangType, t reflect.Type, str string) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	if err := parseScalarInto(yt, v, str); err != nil {
		return reflect.Value{}, err
	}
	return v, nil
}

// parseScalarInto parses str into v, a settable scalar of type yt.
func parseScalarInto(yt *yang.YangType, v reflect.Value, str string) error {
	t := v.Type()
	switch t.Kind() {
	case reflect.String:
		v.SetString(str)
	case reflect.Bool:
		switch str {
		case "true":
			v.SetBool(true)
		case "false":
		default:
			return fmt.Errorf("%q is not a boolean (true or false)", str)
		}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(str, 10, t.Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer from %d to %d", str, int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1)
		}
		v.SetInt(n)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(str, 10, t.Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer from 0 to %d", str, uint64(math.MaxUint64)>>(64-t.Bits()))
		}
		v.SetUint(n)
	case reflect.Float64:
		// decimal64 (RFC 7950 §9.3.1): digits, one optional point, at most
		// fraction-digits digits after it.
		if !isDecimal(str, fractionDigits(yt)) {
			return fmt.Errorf("%q is not a decimal number with at most %d fraction digits", str, fractionDigits(yt))
		}
		n, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return fmt.Errorf("%q is not a decimal number", str)
		}
		v.SetFloat(n)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return fmt.Errorf("binary leaves are not supported")
		}
		fallthrough
	default:
		return fmt.Errorf("cannot parse a value of Go type %s", t)
	}
	return nil
}

func fractionDigits(yt *yang.YangType) int {
	if yt != nil && yt.FractionDigits > 0 {
		return yt.FractionDigits
	}
	return 18
}

func isDecimal(s string, fd int) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" || (hasPoint && frac == "") || len(frac) > fd {
		return false
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Format returns the canonical lexical form of a leaf value or leaf-list
// element as stored in a generated struct (RFC 7950 §9: booleans true and
// false, decimal64 with at least one fraction digit, enum names).
// ok is false for an unset value (nil pointer or interface, UNSET enum).
func (s *Schema) Format(v reflect.Value) (str string, ok bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	if names, isEnum := s.binding.enumNames[v.Type()]; isEnum {
		n := v.Int()
		if n <= 0 || int(n) >= len(names) {
			return "", false
		}
		return names[n], true
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), true
	case reflect.Bool:
		if v.Bool() {
			return "true", true
		}
		return "false", true
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), true
	case reflect.Float64:
		str := strconv.FormatFloat(v.Float(), 'f', -1, 64)
		if !strings.Contains(str, ".") {
			str += ".0"
		}
		return str, true
	}
	return fmt.Sprint(v.Interface()), true
}

// EnumNames lists the names of an enum Go type in value order.
func (s *Schema) EnumNames(t reflect.Type) []string {
	var out []string
	for _, n := range s.binding.enumNames[t] {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}
