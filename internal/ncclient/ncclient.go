// Package ncclient is secgw's one NETCONF client stack, used by the CLI
// and by the tests that talk to secgwd as an ordinary client: SSH dial
// and the netconf subsystem (RFC 6242), the hello exchange, both
// framings, message ids and the matching of each <rpc-reply> to its
// <rpc> (RFC 6241).
//
// It keeps github.com/Juniper/go-netconf (v0.3.1) for what it does well
// and what the tests assert on: building <rpc> with its message-id,
// the hello and capability exchange, and RPCReply/RPCError. The part
// that is broken, its base:1.1 chunked reader (see transport), is
// replaced here, in one place: a Session is go-netconf's Session
// running over this package's transport, whose framing is
// internal/netconf/framing, the same code the server frames with.
// Replacing go-netconf altogether would mean rewriting the RPC and
// error types every test asserts on, for no behaviour the CLI lacks.
//
// A <notification> (RFC 5277) that arrives between replies is skipped
// rather than taken for the reply; a session that subscribed (Subscribe,
// 'secgw monitor ike') reads them with NextNotification (notify.go).
package ncclient

import (
	"io"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// Session is a NETCONF client session: go-netconf's Session (Exec,
// SessionID, ServerCapabilities, Close) over a transport with correct
// framing.
type Session struct {
	*gonetconf.Session
	tr *transport
}

// NewSession runs the hello exchange on an established channel: r and w
// are its two directions, c ends it (nil: nothing to close). It fails
// when the server's hello cannot be read or has no capabilities.
func NewSession(r io.Reader, w io.Writer, c io.Closer) (*Session, error) {
	tr := newTransport(r, w, c)
	sess := gonetconf.NewSession(tr)
	if tr.helloErr != nil {
		tr.Close()
		return nil, tr.helloErr
	}
	return &Session{Session: sess, tr: tr}, nil
}

// Do runs one operation (the element inside <rpc>) and returns the
// whole <rpc-reply> message as received, with go-netconf's error (the
// first rpc-error, or the failure to send or receive). go-netconf returns
// no reply with an rpc-error: msg is how a caller reads every rpc-error
// of the reply; it is nil when no reply was received.
func (s *Session) Do(op string) (msg []byte, err error) {
	s.tr.clearLast()
	_, err = s.Exec(gonetconf.RawMethod(op))
	return s.tr.lastMessage(), err
}
