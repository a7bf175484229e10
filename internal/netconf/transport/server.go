// Package transport is the NETCONF transport layer of secgw: an SSH server
// (RFC 6242) running the "netconf" subsystem, the <hello> exchange and
// session-ids (RFC 6241 §8.1), the choice of framing (end-of-message for
// base:1.0, chunked for base:1.1; the framing itself is
// internal/netconf/framing, which the client shares), <rpc> parsing and <rpc-reply> wrapping
// (RFC 6241 §4), message-level <rpc-error>s, and RFC 5277 notifications.
//
// Operations are not interpreted here: every well-formed <rpc>, including
// <close-session> and <kill-session>, goes to the caller's Handler, which
// uses Session.Close, Server.Kill and Session.OnClose to implement them.
package transport

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Defaults applied by NewServer to zero Config fields.
const (
	// DefaultAddr is the IANA port for NETCONF over SSH (RFC 6242 §3).
	DefaultAddr = ":830"
	// DefaultHelloTimeout bounds the SSH handshake, the subsystem request
	// and the client hello.
	DefaultHelloTimeout = 30 * time.Second
)

// connLinger is how long a connection whose last session ended is kept
// open for the client to close it or to open another session.
const connLinger = 2 * time.Second

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("netconf: server closed")

// Authenticator checks SSH credentials. Each method returns the user name
// the session runs as (the login name if empty) and a role, which is
// opaque to the transport; a non-nil error refuses the attempt.
type Authenticator interface {
	// PasswordAuth checks a login name and password.
	PasswordAuth(user string, password []byte) (name, role string, err error)
	// PublicKeyAuth checks that key may log in as user. The SSH layer
	// verifies the client's signature with the key afterwards.
	PublicKeyAuth(user string, key ssh.PublicKey) (name, role string, err error)
}

// AuthFuncs adapts two functions to Authenticator; a nil function refuses
// that method.
type AuthFuncs struct {
	Password  func(user string, password []byte) (name, role string, err error)
	PublicKey func(user string, key ssh.PublicKey) (name, role string, err error)
}

// PasswordAuth calls f.Password.
func (f AuthFuncs) PasswordAuth(user string, password []byte) (string, string, error) {
	if f.Password == nil {
		return "", "", errors.New("netconf: password authentication disabled")
	}
	return f.Password(user, password)
}

// PublicKeyAuth calls f.PublicKey.
func (f AuthFuncs) PublicKeyAuth(user string, key ssh.PublicKey) (string, string, error) {
	if f.PublicKey == nil {
		return "", "", errors.New("netconf: public-key authentication disabled")
	}
	return f.PublicKey(user, key)
}

// Handler handles the RPCs of all sessions. HandleRPC returns the body of
// the <rpc-reply> (e.g. <ok/>, <data>…</data> or <rpc-error> elements),
// which the transport wraps with the request's attributes; nil or empty
// means <ok/>. Unprefixed elements of the body are in the NETCONF base
// namespace. Calls for one session are sequential; ctx is the session's
// context. A panic is answered with operation-failed.
type Handler interface {
	// HandleRPC handles rpc for session s and returns the reply body.
	HandleRPC(ctx context.Context, s *Session, rpc *RPC) []byte
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, s *Session, rpc *RPC) []byte

// HandleRPC calls f.
func (f HandlerFunc) HandleRPC(ctx context.Context, s *Session, rpc *RPC) []byte {
	return f(ctx, s, rpc)
}

// Config configures a Server.
type Config struct {
	// Addr is the address ListenAndServe listens on; DefaultAddr if empty.
	Addr string
	// HostKeyFile is the SSH host key (OpenSSH PEM). If missing it is
	// created as an Ed25519 key with mode 0600; an existing file readable
	// by group or others is refused. Required.
	HostKeyFile string
	// Auth checks credentials. Required.
	Auth Authenticator
	// Handler handles RPCs. Required.
	Handler Handler
	// Capabilities are advertised in the server hello after base:1.0 and
	// base:1.1.
	Capabilities []string
	// MaxMessageSize limits incoming messages; DefaultMaxMessageSize if
	// zero. A larger message gets an rpc-error and ends the session.
	MaxMessageSize int
	// HelloTimeout bounds the SSH handshake and authentication, the wait
	// for the subsystem request and for the client hello;
	// DefaultHelloTimeout if zero.
	HelloTimeout time.Duration
	// IdleTimeout ends a session after that long without a message in
	// either direction while no RPC is running; 0 means never.
	IdleTimeout time.Duration
	// MaxSessions limits concurrent NETCONF sessions; 0 means no limit.
	MaxSessions int
	// Limits bound memory, sessions per user, unauthenticated connections
	// and password checks; zero fields take their defaults.
	Limits Limits
	// Logger receives connection and session events; slog.Default() if nil.
	Logger *slog.Logger
	// OnSessionStart, when set, is called once a session's hello exchange
	// is done; OnSessionEnd once it has ended, with the reason (RFC 6470
	// session-start and session-end). They must not block.
	OnSessionStart func(s *Session)
	OnSessionEnd   func(s *Session, reason string)
}

// Server is a NETCONF-over-SSH server.
type Server struct {
	cfg     Config
	sshCfg  *ssh.ServerConfig
	hostKey ssh.Signer
	log     *slog.Logger

	budget budget     // Limits.MaxBuffered
	pre    *preauth   // unauthenticated connections
	guard  *authGuard // password checks

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	userConns map[string]int // authenticated connections per user
	sessions  map[uint32]*Session
	lastID    uint32
}

// NewServer checks cfg, applies defaults and loads or creates the host
// key.
func NewServer(cfg Config) (*Server, error) {
	switch {
	case cfg.HostKeyFile == "":
		return nil, errors.New("netconf: Config.HostKeyFile is required")
	case cfg.Auth == nil:
		return nil, errors.New("netconf: Config.Auth is required")
	case cfg.Handler == nil:
		return nil, errors.New("netconf: Config.Handler is required")
	case cfg.MaxMessageSize < 0, cfg.HelloTimeout < 0, cfg.IdleTimeout < 0, cfg.MaxSessions < 0,
		cfg.Limits.BusyAuthTimeout < 0, cfg.Limits.AuthFailureDelay < 0, cfg.Limits.AuthMaxDelay < 0,
		cfg.Limits.AuthForget < 0, cfg.Limits.AuthQueueTimeout < 0:
		return nil, errors.New("netconf: negative limit in Config")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.HelloTimeout == 0 {
		cfg.HelloTimeout = DefaultHelloTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Limits = cfg.Limits.withDefaults()
	cfg.Capabilities = slices.Clone(cfg.Capabilities)
	key, err := loadOrCreateHostKey(cfg.HostKeyFile)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		hostKey:   key,
		log:       cfg.Logger,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*serverConn]struct{}{},
		userConns: map[string]int{},
		sessions:  map[uint32]*Session{},
		pre: &preauth{max: cfg.Limits.MaxUnauthenticated, perSource: cfg.Limits.MaxUnauthenticatedPerSource,
			normal: cfg.HelloTimeout, busy: min(cfg.Limits.BusyAuthTimeout, cfg.HelloTimeout),
			bySource: map[netip.Prefix]*list.List{}},
		guard: newAuthGuard(cfg.Limits, cfg.Logger),
	}
	s.budget.limit = cfg.Limits.MaxBuffered
	s.sshCfg = &ssh.ServerConfig{
		PasswordCallback: func(m ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			var name, role string
			err := s.guard.check(m.User(), sourceOf(m.RemoteAddr()), func() error {
				var err error
				name, role, err = cfg.Auth.PasswordAuth(m.User(), pw)
				return err
			})
			return s.authResult(m, "password", name, role, err)
		},
		PublicKeyCallback: func(m ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			name, role, err := cfg.Auth.PublicKeyAuth(m.User(), k)
			return s.authResult(m, "publickey", name, role, err)
		},
	}
	s.sshCfg.AddHostKey(key)
	return s, nil
}

// Extension keys carrying the authentication result to the session.
const (
	permUser = "secgw-netconf-user"
	permRole = "secgw-netconf-role"
)

func (s *Server) authResult(m ssh.ConnMetadata, method, name, role string, err error) (*ssh.Permissions, error) {
	if err != nil {
		s.log.Info("netconf authentication refused", "method", method, "user", m.User(),
			"remote", m.RemoteAddr().String(), "err", err)
		return nil, err
	}
	if name == "" {
		name = m.User()
	}
	return &ssh.Permissions{Extensions: map[string]string{permUser: name, permRole: role}}, nil
}

// HostKey returns the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// ListenAndServe listens on Config.Addr and serves.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("netconf: %w", err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close, then returns
// ErrServerClosed. ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors: the oldest unauthenticated
				// connection gives its own up, so that the accept queue
				// (where a new login waits) keeps moving.
				if s.pre.evict() {
					s.log.Warn("netconf accept: out of file descriptors; closed the oldest unauthenticated connection", "err", err)
					time.Sleep(time.Millisecond)
					continue
				}
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("netconf accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("netconf: accept: %w", err)
		}
		delay = 0
		// Admitted here rather than in the connection's goroutine, so
		// that a flood's refused connections are closed before the next
		// accept instead of piling up as goroutines holding descriptors.
		pc := s.pre.admit(c) // sets the deadline of the handshake
		if pc == nil {
			s.log.Debug("netconf connection refused: too many unauthenticated connections from its source",
				"remote", c.RemoteAddr().String(), "limit", s.cfg.Limits.MaxUnauthenticatedPerSource)
			_ = c.Close()
			continue
		}
		go s.handleConn(c, pc)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the listeners, ends every session (running their OnClose
// hooks before it returns) and closes every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	lns := make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	sessions := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var err error
	for _, ln := range lns {
		if e := ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = fmt.Errorf("netconf: closing listener: %w", e)
		}
	}
	for _, sess := range sessions {
		sess.terminate("server shutdown")
		<-sess.done
	}
	for _, c := range conns {
		_ = c.nc.Close()
	}
	return err
}

// Sessions lists the established and starting sessions by id.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	out := make([]SessionInfo, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, sess.Info())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b SessionInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Kill ends session id at once, as <kill-session> requires (RFC 6241
// §7.9): its context is cancelled, its channel closed, and its OnClose
// hooks have run when Kill returns. Kill must not be called from one of
// that session's own OnClose hooks.
func (s *Server) Kill(id uint32) error {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("netconf: no session with id %d", id)
	}
	sess.terminate("killed")
	<-sess.done
	return nil
}

// End ends session id gracefully (Session.Close): right after the reply
// to the RPC it is running, if any, else at once. The accounts use it when
// a session's user is removed: the commit that removes it may come from
// that very session, whose reply must still go out.
func (s *Server) End(id uint32) error {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("netconf: no session with id %d", id)
	}
	return sess.Close()
}

// newSession allocates a session-id and registers a session for ch.
func (s *Server) newSession(c *serverConn, ch ssh.Channel) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrServerClosed
	case s.cfg.MaxSessions > 0 && len(s.sessions) >= s.cfg.MaxSessions:
		return nil, fmt.Errorf("netconf: session limit of %d reached", s.cfg.MaxSessions)
	case s.userSessionsLocked(c.ssh.Permissions.Extensions[permUser]) >= s.cfg.Limits.MaxSessionsPerUser &&
		s.cfg.Limits.MaxSessionsPerUser >= 0:
		return nil, fmt.Errorf("netconf: user %s has %d sessions, the limit per user", c.ssh.Permissions.Extensions[permUser],
			s.cfg.Limits.MaxSessionsPerUser)
	case s.lastID == math.MaxUint32:
		return nil, errors.New("netconf: session-ids exhausted")
	}
	s.lastID++
	ctx, cancel := context.WithCancel(context.Background())
	ext := c.ssh.Permissions.Extensions
	sess := &Session{
		acct:   &account{b: &s.budget},
		id:     s.lastID,
		user:   ext[permUser],
		role:   ext[permRole],
		remote: c.ssh.RemoteAddr(),
		start:  time.Now(),
		srv:    s,
		conn:   c,
		ch:     ch,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		bw:     newChannelWriter(ch),
	}
	sess.log = s.log.With("session", sess.id, "user", sess.user, "remote", sess.remote.String())
	if !c.addSession(sess) {
		cancel()
		s.lastID-- // never exposed
		return nil, errors.New("netconf: connection closed")
	}
	s.sessions[sess.id] = sess
	return sess, nil
}

// userSessionsLocked counts the sessions of user; s.mu is held.
func (s *Server) userSessionsLocked(user string) int {
	n := 0
	for _, sess := range s.sessions {
		if sess.user == user {
			n++
		}
	}
	return n
}

// Stats describes what the server's limits are doing.
type Stats struct {
	// Buffered is the memory held in messages being read or handled.
	Buffered int64
	Preauth  PreauthStats
	Auth     AuthStats
	// Sessions is the NETCONF sessions open now.
	Sessions int
}

// Stats returns the counters of the limits.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	return Stats{Buffered: s.budget.used.Load(), Preauth: s.pre.stats(), Auth: s.guard.snapshot(), Sessions: n}
}

func (s *Server) removeSession(sess *Session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	s.mu.Unlock()
}

func (s *Server) trackConn(c *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// addUserConn counts an authenticated connection of user, or reports
// false when the user has twice Limits.MaxSessionsPerUser: every session
// needs a connection of its own or a channel of one, so more connections
// than sessions only hold descriptors; twice, because a connection
// lingers a little after its session ends.
func (s *Server) addUserConn(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lim := s.cfg.Limits.MaxSessionsPerUser; lim >= 0 && s.userConns[user] >= 2*lim {
		return false
	}
	s.userConns[user]++
	return true
}

func (s *Server) removeUserConn(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userConns[user]--; s.userConns[user] <= 0 {
		delete(s.userConns, user)
	}
}

func (s *Server) untrackConn(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
