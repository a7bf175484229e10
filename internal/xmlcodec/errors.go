// Package xmlcodec is the schema-driven XML codec of secgw's NETCONF server
// (RFC 6241): it writes a configuration tree (generated.Device) as the
// content of a <data> or <config> element, with the with-defaults modes of
// RFC 6243 and subtree filtering (RFC 6241 §6), and reads the content of an
// <edit-config> <config> element into a list of edits that Apply carries
// out with the semantics of RFC 6241 §7.2.
//
// Elements follow the XML encoding of YANG (RFC 7950 §7): each element is
// qualified by the namespace of the module that defines the node (for a
// node brought in by an augment, the augmenting module), declared as the
// default namespace only where it changes; list keys come first, in key
// order, then the other children in the order of the YANG statements.
package xmlcodec

import (
	"fmt"
	"strings"

	"secgw/internal/rpcerr"
)

// Namespaces of the NETCONF protocol that the codec reads or writes.
const (
	// NetconfNS is the NETCONF base namespace, of the operation attribute.
	NetconfNS = "urn:ietf:params:xml:ns:netconf:base:1.0"
	// YangNS is the namespace of the YANG XML attributes (insert, value,
	// key of RFC 7950 §7.8.6, §7.7.9).
	YangNS = "urn:ietf:params:xml:ns:yang:1"
	// WithDefaultsNS is the namespace of the default attribute of RFC 6243
	// §6, written in report-all-tagged mode.
	WithDefaultsNS = "urn:ietf:params:xml:ns:netconf:default:1.0"
)

// Error types.
const (
	typeRPC  = rpcerr.TypeRPC
	typeProt = rpcerr.TypeProtocol
	typeApp  = rpcerr.TypeApplication
)

// newError is an rpc-error of the codec (RFC 6241 §4.3, Appendix A): its
// error-path is the instance identifier of the node, without prefixes,
// like /vrf[name='main']/ike/vpn[name='hq']/enabled (for an element that
// is not in the schema, the path of its parent followed by the element's
// name); its message says what is wrong and where, and never holds the
// value of a secret leaf; error-info (added with WithInfo) holds
// bad-element, bad-attribute, bad-namespace as Appendix A gives them for
// each tag. Error() prefixes the message with "xmlcodec: ".
func newError(typ, tag, path, format string, args ...any) *rpcerr.Error {
	return &rpcerr.Error{Source: "xmlcodec", Type: typ, Tag: tag, Path: path, Message: fmt.Sprintf(format, args...)}
}

// Operation is the value of the NETCONF operation attribute (RFC 6241
// §7.2), or of the default-operation parameter of <edit-config>.
type Operation string

// Operations. OpNone is only a default-operation; an Edit whose Op is empty
// has no operation of its own or inherited, and takes the default one.
const (
	OpMerge   Operation = "merge"
	OpReplace Operation = "replace"
	OpCreate  Operation = "create"
	OpDelete  Operation = "delete"
	OpRemove  Operation = "remove"
	OpNone    Operation = "none"
)

// parseOperation checks the value of an operation attribute.
func parseOperation(s string) (Operation, bool) {
	switch op := Operation(s); op {
	case OpMerge, OpReplace, OpCreate, OpDelete, OpRemove:
		return op, true
	}
	return "", false
}

// creates reports whether op builds the node it applies to (and so may
// build its ancestors).
func (op Operation) creates() bool {
	return op == OpMerge || op == OpReplace || op == OpCreate
}

// quoteXPath quotes a string for an instance identifier predicate.
func quoteXPath(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	// Neither quote works alone (RFC 7950 §6.1.3): show it as is.
	return "'" + s + "'"
}
