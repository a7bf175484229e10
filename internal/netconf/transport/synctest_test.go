package transport

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/ssh"
)

// pipeListener is an in-memory net.Listener for testing/synctest bubbles,
// where real sockets would not let time advance.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// dial returns the client end of a new connection. net.Pipe is
// synchronous, which deadlocks SSH's simultaneous version exchange, so
// each direction goes through a copying goroutine that decouples writes.
func (l *pipeListener) dial() net.Conn {
	client, mid1 := net.Pipe()
	mid2, server := net.Pipe()
	closeAll := func() { mid1.Close(); mid2.Close() }
	go func() { _, _ = io.Copy(mid2, mid1); closeAll() }()
	go func() { _, _ = io.Copy(mid1, mid2); closeAll() }()
	l.conns <- server
	return client
}

// startPipeServer serves cfg on a pipeListener inside the current bubble.
func startPipeServer(t *testing.T, cfg Config) (*Server, *pipeListener, chan error) {
	cfg.HostKeyFile = filepath.Join(t.TempDir(), "hostkey")
	cfg.Auth = testAuth()
	cfg.Handler = HandlerFunc(probeHandler)
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := newPipeListener()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return srv, ln, done
}

// pipeClient connects over ln and starts a netconf session.
func pipeClient(t *testing.T, ln *pipeListener) *client {
	nc := ln.dial()
	c, chans, reqs, err := ssh.NewClientConn(nc, "pipe", passwordConfig(testUser, testPassword))
	if err != nil {
		t.Fatal(err)
	}
	return startNetconf(t, ssh.NewClient(c, chans, reqs))
}

// readUntilEnd reads without the helpers' wall-clock guard (in a bubble a
// stuck test is reported as a deadlock instead) and returns when the
// session ends.
func (c *client) readUntilEnd() {
	c.t.Helper()
	if msg, err := c.r.ReadMessage(); err == nil {
		c.t.Fatalf("got %q, want the session to end", msg)
	}
}

func stopPipeServer(t *testing.T, srv *Server, done chan error, clients ...*client) {
	srv.Close()
	if err := <-done; err != ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
	for _, c := range clients {
		c.ssh.Close()
	}
}

// TestHelloTimeoutDefault checks the default 30 s hello timeout in virtual
// time.
func TestHelloTimeoutDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, ln, done := startPipeServer(t, Config{})
		c := pipeClient(t, ln)
		start := time.Now()
		c.readUntilEnd()
		if d := time.Since(start); d != DefaultHelloTimeout {
			t.Fatalf("session ended after %v, want %v", d, DefaultHelloTimeout)
		}
		synctest.Wait()
		if n := len(srv.Sessions()); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
		stopPipeServer(t, srv, done, c)
	})
}

// TestIdleTimeout checks that activity restarts the idle timer and that a
// session without traffic ends after IdleTimeout.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 5 * time.Minute
		srv, ln, done := startPipeServer(t, Config{IdleTimeout: idle})
		c := pipeClient(t, ln)
		c.sendHello(CapBase11)
		for range 3 {
			time.Sleep(idle - time.Second)
			if r := parseReply(t, c.rpc("<get/>")); r.Probe == nil {
				t.Fatalf("reply %+v", r)
			}
		}
		start := time.Now()
		c.readUntilEnd()
		if d := time.Since(start); d != idle {
			t.Fatalf("idle session ended after %v, want %v", d, idle)
		}
		stopPipeServer(t, srv, done, c)
	})
}

// TestConnectionLingers checks that a connection whose session ended is
// closed shortly after, while one without a session yet waits for the
// hello timeout.
func TestConnectionLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, ln, done := startPipeServer(t, Config{HelloTimeout: time.Minute})
		c := pipeClient(t, ln)
		c.sendHello(CapBase11)
		start := time.Now()
		parseReply(t, c.rpc("<close-session/>"))
		c.readUntilEnd()
		_ = c.ssh.Wait()
		if d := time.Since(start); d != connLinger {
			t.Fatalf("connection closed %v after its last session, want %v", d, connLinger)
		}
		stopPipeServer(t, srv, done, c)
	})
}
