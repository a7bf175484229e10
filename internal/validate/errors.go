// Package validate checks a configuration beyond what the generated Go
// types enforce: every YANG constraint ygot does not check (ranges,
// lengths, patterns, mandatory, must, when, leafref, unique, min- and
// max-elements), driven by the schema, plus the cross references YANG
// cannot express (pools, PPK identities, security policy names).
//
// A Validator is built once from the schema (every XPath compiled, every
// pattern compiled) and is then safe for concurrent use. It validates a
// whole tree, or only what one changed subtree can affect.
package validate

import (
	"fmt"
	"strings"

	"secgw/internal/rpcerr"
)

// Kind names the constraint an Error violates.
type Kind string

// The constraint kinds.
const (
	KindType        Kind = "type"         // value outside its type (range, length, pattern)
	KindMandatory   Kind = "mandatory"    // a mandatory node is missing
	KindMust        Kind = "must"         // a must expression is false
	KindWhen        Kind = "when"         // a node exists while its when is false
	KindLeafref     Kind = "leafref"      // a reference to a node that does not exist
	KindUnique      Kind = "unique"       // two list entries share a unique value
	KindMinElements Kind = "min-elements" // too few entries
	KindMaxElements Kind = "max-elements" // too many entries
	KindReference   Kind = "reference"    // a cross reference outside YANG (pool, ppk, names)
	// KindNotSupported: a node this release does not act on, refused
	// rather than accepted (internal/support).
	KindNotSupported Kind = "not-supported"
)

// Error is one violated constraint, at one data node.
type Error struct {
	// Path is the instance identifier of the offending node, e.g.
	// /vrf[name='main']/ike/vpn[name='hq']/ike-policy/template.
	Path string
	Kind Kind
	// Message says in plain words what is wrong.
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "validate: " + e.Path + ": " + e.Message }

// AppTag is the error-app-tag of RFC 7950 §15 for this error, if any.
func (e *Error) AppTag() string {
	switch e.Kind {
	case KindMust:
		return "must-violation"
	case KindLeafref:
		return "instance-required"
	case KindUnique:
		return "data-not-unique"
	case KindMinElements:
		return "too-few-elements"
	case KindMaxElements:
		return "too-many-elements"
	case KindNotSupported:
		return "not-supported"
	}
	return ""
}

// ErrorTag is the NETCONF error-tag (RFC 6241 Appendix A, RFC 7950 §15)
// for this error.
func (e *Error) ErrorTag() string {
	switch e.Kind {
	case KindType:
		return "invalid-value"
	case KindMandatory, KindLeafref:
		return "data-missing"
	case KindWhen:
		return "unknown-element"
	case KindNotSupported:
		return "operation-not-supported"
	}
	return "operation-failed"
}

// RPCError is the violation as an rpc-error (RFC 6241 Appendix A, RFC
// 7950 §15): error-type application, the tag and app-tag of its Kind, its
// path and message. The violation is its cause.
func (e *Error) RPCError() *rpcerr.Error {
	return &rpcerr.Error{Source: "validate", Type: rpcerr.TypeApplication, Tag: e.ErrorTag(), AppTag: e.AppTag(),
		Path: e.Path, Message: e.Message, Err: e}
}

// As lets errors.As see the violation as an *rpcerr.Error.
func (e *Error) As(target any) bool {
	if t, ok := target.(**rpcerr.Error); ok {
		*t = e.RPCError()
		return true
	}
	return false
}

// Errors is every violation found, in tree order. A nil Errors means valid.
type Errors []*Error

// As lets errors.As see the violations as rpcerr.Errors, one rpc-error
// each: the reply of a refused validate or commit reports them all.
func (es Errors) As(target any) bool {
	t, ok := target.(*rpcerr.Errors)
	if !ok || len(es) == 0 {
		return false
	}
	*t = make(rpcerr.Errors, len(es))
	for i, e := range es {
		(*t)[i] = e.RPCError()
	}
	return true
}

// Error implements error: the first violations, one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i == 10 {
			fmt.Fprintf(&b, "\n(and %d more)", len(es)-10)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// maxErrors bounds the work spent on a hopeless configuration.
const maxErrors = 1000
