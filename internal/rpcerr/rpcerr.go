// Package rpcerr is the one error type of secgw's NETCONF reply path: an
// <rpc-error> as RFC 6241 §4.3 and Appendix A shape it (error-type,
// error-tag, error-severity, error-app-tag, error-path, error-message,
// error-info). Every layer that can refuse an operation (the codec, the
// validator, the datastore, the transport, the server, the subsystems'
// RPCs) returns an *Error, or an error that converts itself to Errors
// through errors.As; the NETCONF server encodes them in one place. The
// package imports nothing of secgw and writes no XML.
package rpcerr

import (
	"errors"
	"strings"
)

// error-type values of RFC 6241 §4.3.
const (
	// TypeTransport is the error-type of Secure Transport errors.
	TypeTransport = "transport"
	// TypeRPC is the error-type of message-layer errors.
	TypeRPC = "rpc"
	// TypeProtocol is the error-type of operation-layer errors.
	TypeProtocol = "protocol"
	// TypeApplication is the error-type of content-layer errors.
	TypeApplication = "application"
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

// Error is one <rpc-error> (RFC 6241 §4.3). Source and Err never reach
// the wire: they say which package refused and why, for Error and for
// errors.Is and errors.As.
type Error struct {
	Type     string // error-type, e.g. TypeApplication
	Tag      string // error-tag, e.g. TagInvalidValue
	Severity string // error-severity; empty means SeverityError
	AppTag   string // error-app-tag, omitted if empty
	// Path is the error-path: an instance identifier without prefixes,
	// like /vrf[name='main']/ike/vpn[name='hq']/enabled (the server adds
	// them); omitted if empty.
	Path string
	// Message is the error-message, omitted if empty. It never holds the
	// value of a secret leaf.
	Message string
	// Info maps error-info child element names to their text content,
	// e.g. {"bad-element": "rpc"}.
	Info map[string]string
	// InfoXML is appended verbatim inside error-info after Info; the
	// one who sets it is responsible for it being well-formed.
	InfoXML []byte
	// Source is the package that raised the error ("xmlcodec",
	// "datastore"): the prefix of Error.
	Source string
	// Err is the cause, if any.
	Err error
}

// Error returns the message, prefixed by Source and ": " when set.
func (e *Error) Error() string {
	if e.Source == "" {
		return e.Message
	}
	return e.Source + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorTag returns the error-tag: a subscriber's refusal that is an
// *Error names the tag of the refused commit (datastore.ErrorTagger).
func (e *Error) ErrorTag() string { return e.Tag }

// WithInfo adds error-info entries given as name, value pairs, and
// returns e.
func (e *Error) WithInfo(kv ...string) *Error {
	if e.Info == nil {
		e.Info = make(map[string]string, len(kv)/2)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Info[kv[i]] = kv[i+1]
	}
	return e
}

// Errors are the rpc-errors of one reply, in order: RFC 6241 §4.3 lets a
// server report several (the validator reports every violation).
type Errors []*Error

// Error returns the errors' texts, one per line.
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Of returns the rpc-errors err stands for: the Errors in its chain (an
// error may convert itself with an As method), else the first *Error in
// it, else one application operation-failed error with err's text.
func Of(err error) Errors {
	var es Errors
	if errors.As(err, &es) && len(es) > 0 {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return Errors{e}
	}
	return Errors{{Type: TypeApplication, Tag: TagOperationFailed, Message: err.Error(), Err: err}}
}
