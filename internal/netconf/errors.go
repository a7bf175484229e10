package netconf

import (
	"errors"

	"secgw/internal/datastore"
	"secgw/internal/netconf/transport"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// opError is an rpc-error of this package (RFC 6241 §4.3).
type opError struct {
	Type    string // rpc, protocol, application
	Tag     string
	AppTag  string
	Path    string
	Message string
	Info    map[string]string
}

func (e *opError) Error() string { return "netconf: " + e.Message }

// rpcError renders err as one or more <rpc-error> elements with the
// error-type, error-tag, error-path and error-info the failure calls for.
// Messages never carry secret values: the validator and the codec leave
// them out of theirs.
func rpcError(err error) []byte {
	var out []byte
	add := func(typ, tag, appTag, path, msg string, info map[string]string) {
		out = append(out, transport.BuildRPCError(typ, tag, "error", appTag, path, msg, info)...)
	}
	var oe *opError
	var ve validate.Errors
	var de *datastore.Error
	var xe *xmlcodec.Error
	switch {
	case errors.As(err, &oe):
		add(oe.Type, oe.Tag, oe.AppTag, oe.Path, oe.Message, oe.Info)
	case errors.As(err, &ve):
		for _, e := range ve {
			add("application", e.ErrorTag(), e.AppTag(), e.Path, e.Message, nil)
		}
	case errors.As(err, &xe):
		add(xe.Type, xe.Tag, "", xe.Path, xe.Message, xe.Info)
	case errors.As(err, &de):
		typ := "application"
		if de.Tag == "lock-denied" || de.Tag == "in-use" {
			typ = "protocol"
		}
		// A commit refused by validation carries the validator's errors.
		if errors.As(de.Err, &ve) {
			return rpcError(ve)
		}
		add(typ, de.Tag, "", "", de.Message, de.Info)
	default:
		add("application", "operation-failed", "", "", err.Error(), nil)
	}
	return out
}
