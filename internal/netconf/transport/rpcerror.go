package transport

import (
	"slices"
	"unicode/utf8"
)

// error-type values of RFC 6241 §4.3.
const (
	// ErrorTypeTransport is the error-type of Secure Transport errors.
	ErrorTypeTransport = "transport"
	// ErrorTypeRPC is the error-type of message-layer errors.
	ErrorTypeRPC = "rpc"
	// ErrorTypeProtocol is the error-type of operation-layer errors.
	ErrorTypeProtocol = "protocol"
	// ErrorTypeApplication is the error-type of content-layer errors.
	ErrorTypeApplication = "application"
)

// error-severity values of RFC 6241 §4.3.
const (
	// SeverityError is the error-severity of an error.
	SeverityError = "error"
	// SeverityWarning is the error-severity of a warning.
	SeverityWarning = "warning"
)

// error-tag values of RFC 6241 Appendix A.
const (
	// TagInUse: the request requires a resource that is already in use.
	TagInUse = "in-use"
	// TagInvalidValue: a parameter has an unacceptable value.
	TagInvalidValue = "invalid-value"
	// TagTooBig: the request or its response is too large.
	TagTooBig = "too-big"
	// TagMissingAttribute: an expected attribute is missing; error-info
	// carries bad-attribute and bad-element.
	TagMissingAttribute = "missing-attribute"
	// TagBadAttribute: an attribute value is not correct.
	TagBadAttribute = "bad-attribute"
	// TagUnknownAttribute: an unexpected attribute is present.
	TagUnknownAttribute = "unknown-attribute"
	// TagMissingElement: an expected element is missing.
	TagMissingElement = "missing-element"
	// TagBadElement: an element value is not correct.
	TagBadElement = "bad-element"
	// TagUnknownElement: an unexpected element is present.
	TagUnknownElement = "unknown-element"
	// TagUnknownNamespace: an unexpected namespace is present.
	TagUnknownNamespace = "unknown-namespace"
	// TagAccessDenied: authorization failed.
	TagAccessDenied = "access-denied"
	// TagLockDenied: the lock is held by another session; error-info
	// carries its session-id.
	TagLockDenied = "lock-denied"
	// TagResourceDenied: insufficient resources.
	TagResourceDenied = "resource-denied"
	// TagRollbackFailed: a rollback was not completed.
	TagRollbackFailed = "rollback-failed"
	// TagDataExists: the data already exists.
	TagDataExists = "data-exists"
	// TagDataMissing: the data does not exist.
	TagDataMissing = "data-missing"
	// TagOperationNotSupported: the operation is not implemented.
	TagOperationNotSupported = "operation-not-supported"
	// TagOperationFailed: the operation failed for another reason.
	TagOperationFailed = "operation-failed"
	// TagPartialOperation is obsolete and should not be sent.
	TagPartialOperation = "partial-operation"
	// TagMalformedMessage: the message could not be parsed. New in
	// base:1.1; RFC 6241 forbids sending it to base:1.0-only clients.
	TagMalformedMessage = "malformed-message"
)

// RPCError describes one <rpc-error> element (RFC 6241 §4.3). It
// implements error so that handlers can pass it around as one.
type RPCError struct {
	Type     string // error-type, e.g. ErrorTypeApplication
	Tag      string // error-tag, e.g. TagInvalidValue
	Severity string // error-severity; empty means SeverityError
	AppTag   string // error-app-tag, omitted if empty
	Path     string // error-path, omitted if empty
	Message  string // error-message (xml:lang="en"), omitted if empty
	// Info maps error-info child element names to their text content,
	// e.g. {"bad-element": "rpc"}. Elements are written sorted by name.
	Info map[string]string
	// InfoXML is appended verbatim inside error-info after Info; the
	// caller is responsible for it being well-formed.
	InfoXML []byte
}

// Error returns a one-line description, "netconf: <type> <tag>: <message>".
func (e *RPCError) Error() string {
	s := "netconf: " + e.Type + " " + e.Tag
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// XML returns the <rpc-error> element, to be used as (part of) an
// rpc-reply body.
func (e *RPCError) XML() []byte {
	return e.appendXML(nil)
}

// BuildRPCError returns an <rpc-error> element built from its parts, all
// of them escaped as needed. Empty appTag, path and message are omitted;
// an empty severity means "error". info maps error-info child names to
// their text (see RPCError.Info); names that are not valid XML names are
// dropped.
func BuildRPCError(errType, tag, severity, appTag, path, message string, info map[string]string) []byte {
	e := RPCError{Type: errType, Tag: tag, Severity: severity, AppTag: appTag,
		Path: path, Message: message, Info: info}
	return e.XML()
}

func (e *RPCError) appendXML(b []byte) []byte {
	sev := e.Severity
	if sev == "" {
		sev = SeverityError
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
