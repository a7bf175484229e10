package cliedit

import (
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
)

// TypeName returns the name of a leaf's type as help shows it: the
// typedef name, or the built-in type with its range or length.
func TypeName(yt *yang.YangType) string {
	if yt == nil {
		return "value"
	}
	switch yt.Kind {
	case yang.Yunion:
		var names []string
		for _, m := range yt.Type {
			names = append(names, TypeName(m))
		}
		return strings.Join(names, "|")
	case yang.Yenum:
		return strings.Join(yt.Enum.Names(), "|")
	case yang.Ybool:
		return "true|false"
	case yang.Yidentityref:
		return yt.Name
	}
	name := yt.Name
	if yang.TypeKindToName[yt.Kind] != "" && name == yang.TypeKindToName[yt.Kind] {
		if len(yt.Range) > 0 {
			name += " " + yt.Range.String()
		}
		if len(yt.Length) > 0 && yt.Kind == yang.Ystring {
			name += " length " + yt.Length.String()
		}
	} else if len(yt.Range) > 0 {
		name += " " + yt.Range.String()
	}
	return name
}

// TypeHelp describes what a leaf accepts: its type, units and default.
func TypeHelp(e *yang.Entry) string {
	if e == nil {
		return "a value"
	}
	s := TypeName(e.Type)
	if e.Units != "" {
		s += ", in " + e.Units
	}
	if d, ok := e.SingleDefaultValue(); ok {
		s += ", default " + d
	}
	return s
}

// Quote returns v as one word of the command language: as is when it has
// no blank, quote or backslash and is not empty, else between double
// Quotes with " and \ escaped ("Concentrator public interface"). Control
// characters are shown as '?' (see printable).
func Quote(v string) string {
	v = Printable(v)
	if v != "" && !strings.ContainsAny(v, " \t\"\\") {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range v {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}

// Printable replaces the control characters of s with '?': values come
// from the server and, for SA identities, from IKE peers, and must not
// drive the operator's terminal (escape sequences).
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}
