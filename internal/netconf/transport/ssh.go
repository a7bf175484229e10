package transport

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// serverConn is one SSH connection. It lives as long as it carries
// NETCONF sessions: without one for HelloTimeout after authentication, or
// for connLinger after its last session ended, it is closed.
type serverConn struct {
	srv *Server
	nc  net.Conn
	ssh *ssh.ServerConn

	mu       sync.Mutex
	sessions map[*Session]struct{}
	channels int // open "session" channels, with or without a session
	timer    *time.Timer
	closed   bool
}

// handleConn runs the SSH handshake and accepts "session" channels; pc is
// nc's entry among the unauthenticated connections, which Serve made.
func (s *Server) handleConn(nc net.Conn, pc *preConn) {
	c := &serverConn{srv: s, nc: nc, sessions: map[*Session]struct{}{}}
	if !s.trackConn(c) {
		s.pre.done(pc)
		_ = nc.Close()
		return
	}
	defer s.untrackConn(c)
	defer nc.Close()

	sc, chans, reqs, err := ssh.NewServerConn(nc, s.sshCfg)
	s.pre.done(pc)
	if err != nil {
		s.log.Debug("netconf ssh handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	c.ssh = sc
	user := sc.Permissions.Extensions[permUser]
	if !s.addUserConn(user) {
		s.log.Warn("netconf connection refused: too many connections of its user",
			"user", user, "remote", nc.RemoteAddr().String(), "limit", s.cfg.Limits.MaxSessionsPerUser)
		_ = sc.Close()
		return
	}
	defer s.removeUserConn(user)
	go ssh.DiscardRequests(reqs)
	c.armTimer(s.cfg.HelloTimeout)

	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		// Each channel may buffer a window of data before its subsystem
		// request: as many as the user may have sessions.
		if !c.addChannel() {
			_ = nch.Reject(ssh.ResourceShortage, "too many channels on this connection")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			c.removeChannel()
			continue
		}
		go func() {
			defer c.removeChannel()
			c.serveChannel(ch, creqs)
		}()
	}
	c.endAll() // the connection is gone
}

// serveChannel waits for the "netconf" subsystem request and runs the
// session. shell, exec, pty-req and other subsystems are refused and the
// channel closed; other requests (env, ...) are declined.
func (c *serverConn) serveChannel(ch ssh.Channel, reqs <-chan *ssh.Request) {
	timer := time.AfterFunc(c.srv.cfg.HelloTimeout, func() { _ = ch.Close() })
	defer timer.Stop()
	for req := range reqs {
		switch req.Type {
		case "subsystem":
			name, ok := parseSSHString(req.Payload)
			if !ok || name != "netconf" {
				c.refuse(ch, req, reqs, fmt.Sprintf("subsystem %q", name))
				return
			}
			sess, err := c.srv.newSession(c, ch)
			if err != nil {
				c.refuse(ch, req, reqs, err.Error())
				return
			}
			_ = req.Reply(true, nil)
			timer.Stop()
			go declineAll(reqs)
			sess.run()
			return
		case "shell", "exec", "pty-req":
			c.refuse(ch, req, reqs, req.Type)
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
	_ = ch.Close()
}

func (c *serverConn) refuse(ch ssh.Channel, req *ssh.Request, reqs <-chan *ssh.Request, what string) {
	c.srv.log.Info("netconf channel request refused", "remote", c.nc.RemoteAddr().String(), "request", what)
	_ = req.Reply(false, nil)
	_ = ch.Close()
	go declineAll(reqs)
}

// declineAll answers the remaining requests of a channel until it closes.
func declineAll(reqs <-chan *ssh.Request) {
	for req := range reqs {
		_ = req.Reply(false, nil)
	}
}

// parseSSHString decodes an SSH "string" (RFC 4251 §5), the payload of a
// subsystem request.
func parseSSHString(p []byte) (string, bool) {
	if len(p) < 4 {
		return "", false
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(len(p)-4) < uint64(n) {
		return "", false
	}
	return string(p[4 : 4+n]), true
}

// newChannelWriter buffers a channel so that each framed message leaves
// in as few SSH packets as possible; the session flushes per message.
func newChannelWriter(ch ssh.Channel) *bufio.Writer {
	return bufio.NewWriterSize(ch, 32<<10)
}

func (c *serverConn) addChannel() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lim := c.srv.cfg.Limits.MaxSessionsPerUser; lim >= 0 && c.channels >= lim {
		return false
	}
	c.channels++
	return true
}

func (c *serverConn) removeChannel() {
	c.mu.Lock()
	c.channels--
	c.mu.Unlock()
}

func (c *serverConn) addSession(s *Session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sessions[s] = struct{}{}
	if c.timer != nil {
		c.timer.Stop()
	}
	return true
}

func (c *serverConn) sessionEnded(s *Session) {
	c.mu.Lock()
	delete(c.sessions, s)
	c.mu.Unlock()
	c.armTimer(min(connLinger, c.srv.cfg.HelloTimeout))
}

// armTimer closes the connection after d unless it carries a session by
// then.
func (c *serverConn) armTimer(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.sessions) > 0 {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		idle := !c.closed && len(c.sessions) == 0
		c.mu.Unlock()
		if idle {
			_ = c.nc.Close()
		}
	})
}

// endAll ends the sessions of a connection that has gone away.
func (c *serverConn) endAll() {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	sessions := make([]*Session, 0, len(c.sessions))
	for s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	for _, s := range sessions {
		s.terminate("connection closed")
	}
}

// loadOrCreateHostKey reads the host key at path, or creates an Ed25519
// key there (mode 0600) if there is no file.
func loadOrCreateHostKey(path string) (ssh.Signer, error) {
	signer, err := readHostKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createHostKey(path)
	}
	return signer, err
}

func readHostKey(path string) (ssh.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("netconf: host key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("netconf: host key %s is accessible by group or others (mode %04o)", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("netconf: reading host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("netconf: parsing host key %s: %w", path, err)
	}
	return signer, nil
}

// createHostKey writes a new key to a temporary file and links it into
// place, so that a crash never leaves a partial key and two processes
// starting together end up with the same key.
func createHostKey(path string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("netconf: generating host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "secgw netconf host key")
	if err != nil {
		return nil, fmt.Errorf("netconf: encoding host key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("netconf: host key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".hostkey-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("netconf: creating host key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(pem.EncodeToMemory(block))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("netconf: writing host key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readHostKey(path) // another process won the race
		}
		return nil, fmt.Errorf("netconf: installing host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("netconf: host key signer: %w", err)
	}
	return signer, nil
}
