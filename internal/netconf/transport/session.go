package transport

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"secgw/internal/netconf/framing"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/rpcerr"
)

// ErrSessionClosed is returned by Session.Notify once the session has
// ended.
var ErrSessionClosed = errors.New("netconf: session closed")

// errNotEstablished is returned by Session.Notify before the hellos have
// been exchanged.
var errNotEstablished = errors.New("netconf: session not established")

// Session is one NETCONF session: one SSH "session" channel running the
// "netconf" subsystem. Its RPCs are handled one at a time, in order, and
// every message written to the client (hello, replies, notifications) is
// written whole under one lock.
type Session struct {
	id     uint32
	user   string
	role   string
	remote net.Addr
	start  time.Time
	srv    *Server
	conn   *serverConn
	ch     ssh.Channel
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed once the OnClose hooks have run

	// acct is the session's share of Limits.MaxBuffered: the messages
	// being read or handled. terminate returns it.
	acct *account

	wmu sync.Mutex            // held while writing one whole message
	bw  *bufio.Writer         // over ch
	w   framing.MessageWriter // nil until the hellos are exchanged

	mu       sync.Mutex
	caps     []string // client capabilities
	base11   bool
	busy     bool // an RPC is being handled
	closeReq bool // Close was called
	closed   bool
	hooks    []func()

	idle *time.Timer // nil without Config.IdleTimeout
}

// SessionInfo describes a session for Server.Sessions.
type SessionInfo struct {
	ID         uint32
	User       string
	Role       string
	RemoteAddr net.Addr
	Start      time.Time
}

// ID returns the session-id sent in the server hello.
func (s *Session) ID() uint32 { return s.id }

// User returns the user name the Authenticator returned.
func (s *Session) User() string { return s.user }

// Role returns the role the Authenticator returned.
func (s *Session) Role() string { return s.role }

// RemoteAddr returns the client's network address.
func (s *Session) RemoteAddr() net.Addr { return s.remote }

// Context returns a context that is cancelled when the session ends.
func (s *Session) Context() context.Context { return s.ctx }

// Info returns the session's description.
func (s *Session) Info() SessionInfo {
	return SessionInfo{ID: s.id, User: s.user, Role: s.role, RemoteAddr: s.remote, Start: s.start}
}

// Base11 reports whether both peers advertised base:1.1, that is whether
// the session uses chunked framing and may be sent base:1.1-only errors
// such as malformed-message.
func (s *Session) Base11() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base11
}

// ClientCapabilities returns the capabilities of the client hello.
func (s *Session) ClientCapabilities() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.caps)
}

// Close ends the session gracefully: if an RPC is being handled (for
// example the handler of <close-session> calls Close), the session ends
// right after its reply has been written; otherwise at once. It always
// returns nil.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closeReq = true
	busy := s.busy
	s.mu.Unlock()
	if !busy {
		s.terminate("closed")
	}
	return nil
}

// OnClose registers f to run once when the session ends, however it ends
// (close, kill, disconnect, timeout, server shutdown); hooks run in
// registration order. The datastore uses this to release the session's
// locks and confirmed commits (RFC 6241 §7.8, §8.4). If the session has
// already ended, f runs at once.
func (s *Session) OnClose(f func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		f()
		return
	}
	s.hooks = append(s.hooks, f)
	s.mu.Unlock()
}

// Notify sends an RFC 5277 notification carrying eventXML (one or more
// elements, written verbatim) and the current time as eventTime. It is
// safe to call concurrently with RPC handling: the notification is written
// between two whole replies.
func (s *Session) Notify(eventXML []byte) error { return s.NotifyAt(time.Now(), eventXML) }

// NotifyAt is Notify for an event that happened at t: RFC 5277 §4's
// eventTime is when the event was generated, not when it is sent.
func (s *Session) NotifyAt(t time.Time, eventXML []byte) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrSessionClosed
	}
	err := s.writeMessage(notificationMessage(t, eventXML))
	s.touch()
	return err
}

// writeMessage frames and writes one whole message.
func (s *Session) writeMessage(msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrSessionClosed // nothing may follow a kill
	}
	if s.w == nil {
		return errNotEstablished
	}
	if err := s.w.WriteMessage(msg); err != nil {
		return err
	}
	return s.bw.Flush()
}

// run exchanges hellos, then reads and dispatches messages until the
// session ends.
func (s *Session) run() {
	reason := "client disconnected"
	defer func() { s.terminate(reason) }()
	br := bufio.NewReaderSize(s.ch, framing.ReadBufferSize)
	if err := s.handshake(br); err != nil {
		reason = err.Error()
		return
	}
	var r framing.MessageReader
	if s.Base11() {
		cr := framing.NewChunkedReader(br, s.srv.cfg.MaxMessageSize)
		cr.SetBudget(s.acct)
		r = cr
	} else {
		er := framing.NewEOMReader(br, s.srv.cfg.MaxMessageSize)
		er.SetBudget(s.acct)
		r = er
	}
	msgs := make(chan readResult) // unbuffered: at most one message read ahead
	go s.readLoop(r, msgs)
	s.startIdle()
	for {
		select {
		case <-s.ctx.Done():
			return
		case res := <-msgs:
			if res.err != nil {
				reason = s.readFailed(res.err)
				return
			}
			ok := s.dispatch(res.msg)
			s.acct.release(cap(res.msg))
			if !ok {
				reason = "closed"
				return
			}
		}
	}
}

type readResult struct {
	msg []byte
	err error
}

func (s *Session) readLoop(r framing.MessageReader, out chan<- readResult) {
	for {
		msg, err := r.ReadMessage()
		select {
		case out <- readResult{msg, err}:
		case <-s.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// handshake sends the server hello and checks the client's (RFC 6241
// §8.1), then selects the framing for the rest of the session (RFC 6242
// §4.1). The hellos themselves always use end-of-message framing.
func (s *Session) handshake(br *bufio.Reader) error {
	var helloDone atomic.Bool
	timer := time.AfterFunc(s.srv.cfg.HelloTimeout, func() {
		if !helloDone.Load() {
			s.terminate("no client hello within the hello timeout")
		}
	})
	defer timer.Stop()

	s.wmu.Lock()
	err := framing.NewEOMWriter(s.bw).WriteMessage(helloMessage(s.id, s.srv.cfg.Capabilities))
	if err == nil {
		err = s.bw.Flush()
	}
	s.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("netconf: sending hello: %w", err)
	}
	hr := framing.NewEOMReader(br, s.srv.cfg.MaxMessageSize)
	hr.SetBudget(s.acct)
	msg, err := hr.ReadMessage()
	if err != nil {
		if errors.Is(err, ErrBudgetExhausted) {
			s.log.Warn("netconf client hello refused: message memory exhausted",
				"limit", s.srv.cfg.Limits.MaxBuffered)
		}
		return fmt.Errorf("netconf: reading client hello: %w", err)
	}
	defer s.acct.release(cap(msg))
	lim := s.srv.cfg.Limits
	if err := checkShape(msg, lim.MaxDepth, lim.MaxElements); err != nil {
		return fmt.Errorf("netconf: client hello refused: %w", err)
	}
	caps, err := parseHello(msg)
	if err != nil {
		return err
	}
	helloDone.Store(true)
	base11 := hasCap(caps, CapBase11)
	s.mu.Lock()
	s.caps, s.base11 = caps, base11
	s.mu.Unlock()
	s.wmu.Lock()
	if base11 {
		s.w = framing.NewChunkedWriter(s.bw)
	} else {
		s.w = framing.NewEOMWriter(s.bw)
	}
	s.wmu.Unlock()
	s.log.Info("netconf session started", "base11", base11)
	if f := s.srv.cfg.OnSessionStart; f != nil {
		s.runHook(func() { f(s) })
	}
	return nil
}

// readFailed answers a framing error if the stream allows it and returns
// why the session ends.
func (s *Session) readFailed(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "client closed the session"
	case errors.Is(err, framing.ErrMessageTooLarge):
		msg := fmt.Sprintf("message exceeds the maximum size of %d bytes", s.srv.cfg.MaxMessageSize)
		_ = s.writeMessage(replyMessage(nil, s.malformedError(msg)))
		return msg
	case errors.Is(err, ErrBudgetExhausted):
		// RFC 6241 Appendix A: resource-denied, "insufficient resources".
		// The rest of the message is not read, so the stream cannot be
		// resynchronised: the session ends after the error.
		msg := fmt.Sprintf("the server's memory for incoming messages (%d bytes for all sessions) is exhausted; "+
			"the message is refused and the session closed", s.srv.cfg.Limits.MaxBuffered)
		s.log.Warn("netconf message refused: message memory exhausted", "limit", s.srv.cfg.Limits.MaxBuffered,
			"session_held", s.acct.holding())
		_ = s.writeMessage(replyMessage(nil, errorBody(rpcerr.TypeRPC, rpcerr.TagResourceDenied, msg, nil)))
		return msg
	case errors.Is(err, framing.ErrMalformedFrame):
		_ = s.writeMessage(replyMessage(nil, s.malformedError(err.Error())))
		return err.Error()
	}
	return "read error: " + err.Error()
}

// malformedError is the rpc-error for a message that could not be parsed:
// malformed-message on base:1.1 sessions, operation-failed on base:1.0
// sessions, to which RFC 6241 Appendix A forbids sending
// malformed-message.
func (s *Session) malformedError(detail string) []byte {
	tag := rpcerr.TagMalformedMessage
	if !s.Base11() {
		tag = rpcerr.TagOperationFailed
	}
	return errorBody(rpcerr.TypeRPC, tag, detail, nil)
}

// dispatch handles one message and writes its reply. It returns false when
// the session must end.
func (s *Session) dispatch(msg []byte) bool {
	if !s.begin() {
		return false
	}
	reply := s.process(msg)
	err := s.writeMessage(reply)
	if errors.Is(err, framing.ErrMarkerInMessage) {
		s.log.Error("netconf reply contains the end-of-message marker", "len", len(reply))
		body := errorBody(rpcerr.TypeApplication, rpcerr.TagOperationFailed, "reply cannot be framed", nil)
		err = s.writeMessage(replyMessage(requestAttrs(msg), body))
	}
	if err != nil {
		s.log.Info("netconf write failed", "err", err)
		s.end()
		return false
	}
	return s.end()
}

// process turns one incoming message into the bytes of its rpc-reply.
func (s *Session) process(msg []byte) []byte {
	lim := s.srv.cfg.Limits
	if err := checkShape(msg, lim.MaxDepth, lim.MaxElements); err != nil {
		// RFC 6241 Appendix A: too-big, "the request is too large for
		// the implementation to handle". The message was read whole, so
		// the session goes on.
		s.log.Info("netconf message refused", "err", err, "len", len(msg))
		return replyMessage(rootRPCAttrs(msg), errorBody(rpcerr.TypeRPC, rpcerr.TagTooBig, err.(*shapeError).detail, nil))
	}
	rpc, perr := parseRPC(msg)
	if perr != nil {
		var attrs []xml.Attr
		if rpc != nil {
			attrs = rpc.Attrs
		}
		s.log.Debug("netconf bad message", "err", perr.detail)
		if perr.missingID {
			return replyMessage(attrs, errorBody(rpcerr.TypeRPC, rpcerr.TagMissingAttribute, perr.detail, map[string]string{"bad-attribute": "message-id", "bad-element": "rpc"}))
		}
		return replyMessage(attrs, s.malformedError(perr.detail))
	}
	body := s.callHandler(rpc)
	if len(body) == 0 {
		body = []byte("<ok/>")
	}
	return replyMessage(rpc.Attrs, body)
}

// requestAttrs returns the <rpc> attributes of msg to echo, if any.
func requestAttrs(msg []byte) []xml.Attr {
	if rpc, _ := parseRPC(msg); rpc != nil {
		return rpc.Attrs
	}
	return nil
}

// callHandler runs the Handler, turning a panic into operation-failed so
// that one faulty operation does not take the server down.
func (s *Session) callHandler(rpc *RPC) (body []byte) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("netconf handler panicked", "op", rpc.Operation.Local, "panic", p,
				"stack", string(debug.Stack()))
			body = errorBody(rpcerr.TypeApplication, rpcerr.TagOperationFailed, "internal error", nil)
		}
	}()
	return s.srv.cfg.Handler.HandleRPC(s.ctx, s, rpc)
}

// begin marks an RPC in progress; it fails once the session is closing.
func (s *Session) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.closeReq {
		return false
	}
	s.busy = true
	s.touchLocked()
	return true
}

// end marks the RPC done, ending the session if Close was called during
// it. It returns false if the session ended.
func (s *Session) end() bool {
	s.mu.Lock()
	s.busy = false
	req := s.closeReq || s.closed
	s.touchLocked()
	s.mu.Unlock()
	if req {
		s.terminate("closed")
		return false
	}
	return true
}

func (s *Session) startIdle() {
	if d := s.srv.cfg.IdleTimeout; d > 0 {
		s.mu.Lock()
		if !s.closed {
			s.idle = time.AfterFunc(d, s.idleExpired)
		}
		s.mu.Unlock()
	}
}

// touch restarts the idle timer: messages in either direction count as
// activity.
func (s *Session) touch() {
	s.mu.Lock()
	s.touchLocked()
	s.mu.Unlock()
}

func (s *Session) touchLocked() {
	if s.idle != nil && !s.closed {
		s.idle.Reset(s.srv.cfg.IdleTimeout)
	}
}

func (s *Session) idleExpired() {
	s.mu.Lock()
	if s.busy || s.closed {
		s.mu.Unlock()
		return
	}
	s.closeReq = true
	s.mu.Unlock()
	s.terminate("idle timeout")
}

// terminate ends the session at once: it cancels the context, closes the
// channel, unregisters the session and runs the OnClose hooks. Only the
// first call does anything.
func (s *Session) terminate(reason string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	hooks := s.hooks
	s.hooks = nil
	if s.idle != nil {
		s.idle.Stop()
	}
	s.mu.Unlock()

	// Close the channel before cancelling the context, so that a handler
	// returning on cancellation finds nothing to write to.
	_ = s.ch.Close()
	s.cancel()
	s.acct.close()
	s.srv.removeSession(s)
	for _, f := range hooks {
		s.runHook(f)
	}
	close(s.done)
	s.log.Info("netconf session ended", "reason", reason)
	if f := s.srv.cfg.OnSessionEnd; f != nil {
		s.runHook(func() { f(s, reason) })
	}
	s.conn.sessionEnded(s)
}

func (s *Session) runHook(f func()) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("netconf OnClose hook panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	f()
}

// errorBody is the <rpc-error> of a message the session refuses itself.
func errorBody(typ, tag, msg string, info map[string]string) []byte {
	return AppendRPCError(nil, &rpcerr.Error{Type: typ, Tag: tag, Message: msg, Info: info})
}
