package netconf

import (
	"bytes"
	"strconv"
	"strings"

	"secgw/internal/netconf/transport"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// opError is an rpc-error of this package (RFC 6241 §4.3).
func opError(typ, tag, msg string, info map[string]string) *rpcerr.Error {
	return &rpcerr.Error{Source: "netconf", Type: typ, Tag: tag, Message: msg, Info: info}
}

// rpcError renders err as one or more <rpc-error> elements (rpcerr.Of:
// every layer returns *rpcerr.Error, the validator rpcerr.Errors, and
// anything else is application operation-failed with its text). The
// error-path gets its module prefixes, declared on it; an error naming a
// session by its session-id (a lock held) names that session's user too.
// Messages never carry secret values: the validator and the codec leave
// them out of theirs.
func (srv *Server) rpcError(err error) []byte {
	var out []byte
	for _, e := range rpcerr.Of(err) {
		w := *e
		var decls string
		w.Path, decls = srv.prefixedString(e.Path)
		w.Message += srv.holderUser(e.Info["session-id"])
		b := transport.AppendRPCError(nil, &w)
		if decls != "" {
			// RFC 6241 §4.3: the prefixes of error-path are declared on it.
			b = bytes.Replace(b, []byte("<error-path>"), []byte("<error-path"+decls+">"), 1)
		}
		out = append(out, b...)
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
