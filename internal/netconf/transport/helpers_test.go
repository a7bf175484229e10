package transport

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"secgw/internal/netconf/framing"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/poll"
)

const (
	testUser     = "admin"
	testPassword = "s3cret"
	testRole     = "admin-role"
	testTimeout  = 20 * time.Second // guard against hangs, never reached
	testCap      = "urn:example:secgw?module=ipsec&revision=2024-01-01"
	probeNS      = "urn:test:probe"
)

// testAuth accepts testUser/testPassword and, for "operator", any key in
// keys.
func testAuth(keys ...ssh.PublicKey) Authenticator {
	return AuthFuncs{
		Password: func(user string, pw []byte) (string, string, error) {
			if user == testUser && string(pw) == testPassword {
				return user, testRole, nil
			}
			return "", "", errors.New("netconf: bad credentials")
		},
		PublicKey: func(user string, key ssh.PublicKey) (string, string, error) {
			for _, k := range keys {
				if user == "operator" && string(k.Marshal()) == string(key.Marshal()) {
					return "op", "operator-role", nil
				}
			}
			return "", "", errors.New("netconf: unknown key")
		},
	}
}

// probeHandler answers <get> with a <data> element naming the session and
// operation, <close-session> by closing the session, and <boom> by
// panicking; anything else gets <ok/>.
func probeHandler(ctx context.Context, s *Session, rpc *RPC) []byte {
	switch rpc.Operation.Local {
	case "close-session":
		s.Close()
		return []byte("<ok/>")
	case "boom":
		panic("boom")
	case "get":
		return fmt.Appendf(nil, `<data><probe xmlns=%q session="%d" op="%s" ns="%s" user="%s" role="%s"/></data>`,
			probeNS, s.ID(), rpc.Operation.Local, rpc.Operation.Space, s.User(), s.Role())
	}
	return nil
}

// startServer serves cfg (filled with test defaults) on 127.0.0.1:0.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.HostKeyFile == "" {
		cfg.HostKeyFile = filepath.Join(t.TempDir(), "hostkey")
	}
	if cfg.Auth == nil {
		cfg.Auth = testAuth()
	}
	if cfg.Handler == nil {
		cfg.Handler = HandlerFunc(probeHandler)
	}
	if cfg.Capabilities == nil {
		cfg.Capabilities = []string{testCap}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, ln.Addr().String()
}

func passwordConfig(user, pw string) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         testTimeout,
	}
}

// dialSSH opens an SSH connection whose socket gives up after testTimeout.
func dialSSH(addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// client is a minimal NETCONF client over x/crypto/ssh.
type client struct {
	t      *testing.T
	ssh    *ssh.Client
	sess   *ssh.Session
	stdin  io.WriteCloser
	br     *bufio.Reader
	r      framing.MessageReader
	w      framing.MessageWriter
	hello  serverHello
	nextID int
}

type serverHello struct {
	Capabilities []string `xml:"capabilities>capability"`
	SessionID    uint32   `xml:"session-id"`
}

// dial connects as testUser, starts the netconf subsystem and reads the
// server hello.
func dial(t *testing.T, addr string) *client {
	t.Helper()
	sc, err := dialSSH(addr, passwordConfig(testUser, testPassword))
	if err != nil {
		t.Fatalf("ssh dial: %v", err)
	}
	return startNetconf(t, sc)
}

func startNetconf(t *testing.T, sc *ssh.Client) *client {
	t.Helper()
	t.Cleanup(func() { sc.Close() })
	sess, err := sc.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	if err := sess.RequestSubsystem("netconf"); err != nil {
		t.Fatalf("subsystem: %v", err)
	}
	c := &client{t: t, ssh: sc, sess: sess, stdin: stdin, br: bufio.NewReaderSize(stdout, framing.ReadBufferSize)}
	c.r = framing.NewEOMReader(c.br, 0)
	c.w = framing.NewEOMWriter(stdin)
	msg := c.recv()
	if err := xml.Unmarshal([]byte(msg), &c.hello); err != nil {
		t.Fatalf("server hello %q: %v", msg, err)
	}
	return c
}

// helloMsg builds a client hello advertising caps.
func helloMsg(caps ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><hello xmlns="` + NSBase + `"><capabilities>`)
	for _, c := range caps {
		b.Write(appendElem(nil, "capability", c))
	}
	b.WriteString("</capabilities></hello>")
	return b.String()
}

// sendHello sends a hello with caps and switches to chunked framing when
// both sides advertise base:1.1.
func (c *client) sendHello(caps ...string) {
	c.t.Helper()
	c.send(helloMsg(caps...))
	if hasCap(caps, CapBase11) && hasCap(c.hello.Capabilities, CapBase11) {
		c.r = framing.NewChunkedReader(c.br, 0)
		c.w = framing.NewChunkedWriter(c.stdin)
	}
}

func (c *client) send(msg string) {
	c.t.Helper()
	if err := c.w.WriteMessage([]byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recvErr reads one message, failing the test if none comes in time.
func (c *client) recvErr() (string, error) {
	type result struct {
		msg []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		msg, err := c.r.ReadMessage()
		ch <- result{msg, err}
	}()
	select {
	case r := <-ch:
		return string(r.msg), r.err
	case <-time.After(testTimeout):
		c.t.Fatal("no message from the server")
		return "", nil
	}
}

func (c *client) recv() string {
	c.t.Helper()
	msg, err := c.recvErr()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return msg
}

// expectEOF checks that the server ends the session.
func (c *client) expectEOF() {
	c.t.Helper()
	if msg, err := c.recvErr(); err == nil {
		c.t.Fatalf("got %q, want the session to end", msg)
	}
}

// rpc sends op in an <rpc> with a fresh message-id and returns the reply.
func (c *client) rpc(op string) string {
	c.t.Helper()
	c.nextID++
	c.send(fmt.Sprintf(`<rpc message-id="%d" xmlns="%s">%s</rpc>`, c.nextID, NSBase, op))
	return c.recv()
}

// reply is an <rpc-reply> as a client sees it.
type reply struct {
	XMLName   xml.Name
	MessageID string     `xml:"message-id,attr"`
	Attrs     []xml.Attr `xml:",any,attr"`
	OK        *struct{}  `xml:"ok"`
	Errors    []struct {
		Type     string `xml:"error-type"`
		Tag      string `xml:"error-tag"`
		Severity string `xml:"error-severity"`
		Message  string `xml:"error-message"`
		Info     struct {
			BadAttribute string `xml:"bad-attribute"`
			BadElement   string `xml:"bad-element"`
		} `xml:"error-info"`
	} `xml:"rpc-error"`
	Probe *struct {
		Session uint32 `xml:"session,attr"`
		Op      string `xml:"op,attr"`
		NS      string `xml:"ns,attr"`
		User    string `xml:"user,attr"`
		Role    string `xml:"role,attr"`
	} `xml:"data>probe"`
}

func parseReply(t *testing.T, msg string) reply {
	t.Helper()
	var r reply
	if err := xml.Unmarshal([]byte(msg), &r); err != nil {
		t.Fatalf("reply %q: %v", msg, err)
	}
	if r.XMLName != (xml.Name{Space: NSBase, Local: "rpc-reply"}) {
		t.Fatalf("reply element is %v in %q", r.XMLName, msg)
	}
	return r
}

// wantError checks that msg is an rpc-reply carrying one rpc-error.
func wantError(t *testing.T, msg, errType, tag string) reply {
	t.Helper()
	r := parseReply(t, msg)
	if len(r.Errors) != 1 || r.Errors[0].Type != errType || r.Errors[0].Tag != tag || r.Errors[0].Severity != "error" {
		t.Fatalf("want one %s/%s rpc-error, got %q", errType, tag, msg)
	}
	return r
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Require(t, testTimeout, what, cond)
}

// recorder records calls from handlers and hooks.
type recorder struct {
	mu    sync.Mutex
	items []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.items = append(r.items, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.items...)
}

func newTestSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// attr returns the value of the attribute local of r, if any.
func (r reply) attr(local string) (string, bool) {
	for _, a := range r.Attrs {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}
