package transport

import (
	"slices"
	"unicode/utf8"

	"secgw/internal/rpcerr"
)

// AppendRPCError appends e as an <rpc-error> element (RFC 6241 §4.3),
// every part escaped as needed: the one encoder of rpc-errors. Empty
// AppTag, Path and Message are omitted; an empty Severity means "error";
// Info entries are written sorted by name, and names that are not valid
// XML names are dropped. Source and Err are not written.
func AppendRPCError(b []byte, e *rpcerr.Error) []byte {
	sev := e.Severity
	if sev == "" {
		sev = rpcerr.SeverityError
	}
	b = append(b, "<rpc-error>"...)
	b = appendElem(b, "error-type", e.Type)
	b = appendElem(b, "error-tag", e.Tag)
	b = appendElem(b, "error-severity", sev)
	if e.AppTag != "" {
		b = appendElem(b, "error-app-tag", e.AppTag)
	}
	if e.Path != "" {
		b = appendElem(b, "error-path", e.Path)
	}
	if e.Message != "" {
		b = append(b, `<error-message xml:lang="en">`...)
		b = appendEscaped(b, e.Message, false)
		b = append(b, "</error-message>"...)
	}
	keys := make([]string, 0, len(e.Info))
	for k := range e.Info {
		if validNCName(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 || len(e.InfoXML) > 0 {
		slices.Sort(keys)
		b = append(b, "<error-info>"...)
		for _, k := range keys {
			b = appendElem(b, k, e.Info[k])
		}
		b = append(b, e.InfoXML...)
		b = append(b, "</error-info>"...)
	}
	return append(b, "</rpc-error>"...)
}

func appendElem(b []byte, name, text string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendEscaped(b, text, false)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendEscaped appends s escaped for XML character data, or for a
// double-quoted attribute value if attr is set (then white space other
// than a plain space is written as a character reference so that it
// survives attribute-value normalisation). Characters XML 1.0 does not
// allow, and invalid UTF-8, become U+FFFD.
func appendEscaped(b []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '&':
			b = append(b, "&amp;"...)
		case r == '<':
			b = append(b, "&lt;"...)
		case r == '>':
			b = append(b, "&gt;"...)
		case r == '"' && attr:
			b = append(b, "&quot;"...)
		case r == '\t' && attr:
			b = append(b, "&#x9;"...)
		case r == '\n' && attr:
			b = append(b, "&#xA;"...)
		case r == '\r':
			b = append(b, "&#xD;"...)
		case (r == utf8.RuneError && size == 1) || !xmlChar(r):
			b = utf8.AppendRune(b, utf8.RuneError)
		default:
			b = append(b, s[i-size:i]...)
		}
	}
	return b
}

// xmlChar reports whether r is allowed by the Char production of XML 1.0.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}

// validNCName reports whether s is usable as an unprefixed element name
// here: ASCII letters, digits, '-', '_' and '.', not starting with a
// digit, '-' or '.'. (Prefixed names would need a namespace declaration.)
func validNCName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-' || c == '.':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
