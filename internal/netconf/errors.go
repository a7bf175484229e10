package netconf

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"secgw/internal/datastore"
	"secgw/internal/netconf/transport"
	"secgw/internal/schema"
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

// RPCError is an error a subsystem's RPC handler (Operations) returns to
// choose the <rpc-error> fields (RFC 6241 Appendix A); any other error is
// reported as application operation-failed with its message.
type RPCError struct {
	Type    string // protocol or application
	Tag     string // e.g. missing-element, invalid-value, data-missing
	Message string
	Info    map[string]string // error-info, e.g. bad-element
}

func (e *RPCError) Error() string { return e.Message }

// rpcError renders err as one or more <rpc-error> elements with the
// error-type, error-tag, error-path and error-info the failure calls for.
// Messages never carry secret values: the validator and the codec leave
// them out of theirs.
func (srv *Server) rpcError(err error) []byte {
	var out []byte
	add := func(typ, tag, appTag, path, msg string, info map[string]string) {
		prefixed, decls := srv.prefixedString(path)
		e := transport.BuildRPCError(typ, tag, "error", appTag, prefixed, msg, info)
		if decls != "" {
			// RFC 6241 §4.3: the prefixes of error-path are declared on it.
			e = bytes.Replace(e, []byte("<error-path>"), []byte("<error-path"+decls+">"), 1)
		}
		out = append(out, e...)
	}
	var oe *opError
	var re *RPCError
	var ve validate.Errors
	var de *datastore.Error
	var xe *xmlcodec.Error
	switch {
	case errors.As(err, &oe):
		add(oe.Type, oe.Tag, oe.AppTag, oe.Path, oe.Message, oe.Info)
	case errors.As(err, &re):
		add(re.Type, re.Tag, "", "", re.Message, re.Info)
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
			return srv.rpcError(ve)
		}
		add(typ, de.Tag, "", "", de.Message+srv.holderUser(de.Info["session-id"]), de.Info)
	default:
		add("application", "operation-failed", "", "", err.Error(), nil)
	}
	return out
}

// prefixedString adds module prefixes to an instance identifier written
// without them ("/vrf[name='main']/ike" becomes "/vrf:vrf[vrf:name='main']/ike:ike")
// and returns the namespace declarations the prefixes need. A path that
// does not parse is returned as it is.
func (srv *Server) prefixedString(path string) (string, string) {
	if path == "" || path[0] != '/' {
		return path, ""
	}
	var p schema.DataPath
	rest := path[1:]
	for rest != "" {
		seg := rest
		depth, cut := 0, -1
		for i := 0; i < len(rest) && cut < 0; i++ {
			switch rest[i] {
			case '[':
				depth++
			case ']':
				depth--
			case '/':
				if depth == 0 {
					cut = i
				}
			}
		}
		if cut >= 0 {
			seg, rest = rest[:cut], rest[cut+1:]
		} else {
			rest = ""
		}
		e := schema.Elem{Name: seg}
		if i := strings.IndexByte(seg, '['); i > 0 && strings.HasSuffix(seg, "']") {
			kv := seg[i+1 : len(seg)-1]
			k, v, ok := strings.Cut(kv, "='")
			if !ok {
				return path, ""
			}
			e = schema.Elem{Name: seg[:i], KeyName: k, Key: strings.TrimSuffix(v, "'")}
		}
		p = append(p, e)
	}
	return srv.prefixedPath(p)
}

// holderUser is " (user NAME)" for the session that holds a lock, named
// by the session-id of a lock-denied or in-use error, so that an
// operator refused a lock learns who holds it, not only a number; ""
// when the session is gone or unknown.
func (srv *Server) holderUser(sid string) string {
	if sid == "" || sid == "0" || srv.tr == nil {
		return ""
	}
	for _, si := range srv.tr.Sessions() {
		if strconv.FormatUint(uint64(si.ID), 10) == sid {
			return " (user " + si.User + ")"
		}
	}
	return ""
}
