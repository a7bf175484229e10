package ncclient

import (
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// Dial opens a NETCONF session over SSH to addr (host:port) and runs
// the hello exchange. ioTimeout > 0 bounds the TCP connect and every
// read and write of the connection, and SSH
// keep-alives every ioTimeout/2 keep an idle session from hitting it (a
// test's guard against a hung server); with 0, cfg.Timeout bounds the
// connect and reads are unbounded (the CLI waits for a long commit).
func Dial(addr string, cfg *ssh.ClientConfig, ioTimeout time.Duration) (*Session, error) {
	client, err := dialSSH(addr, cfg, ioTimeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s as %s: %w", addr, cfg.User, err)
	}
	ss, err := client.NewSession()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	w, err := ss.StdinPipe()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	r, err := ss.StdoutPipe()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if err := ss.RequestSubsystem("netconf"); err != nil {
		client.Close()
		return nil, fmt.Errorf("%s: the netconf subsystem: %w", addr, err)
	}
	return NewSession(r, w, closers{ss, client})
}

// dialSSH connects and authenticates.
func dialSSH(addr string, cfg *ssh.ClientConfig, ioTimeout time.Duration) (*ssh.Client, error) {
	if ioTimeout <= 0 {
		return ssh.Dial("tcp", addr, cfg)
	}
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(&deadlineConn{Conn: nc, timeout: ioTimeout}, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	client := ssh.NewClient(c, chans, reqs)
	go keepAlive(client, ioTimeout/2)
	return client, nil
}

// keepAlive sends an SSH keep-alive every interval until the connection
// fails or closes.
func keepAlive(client *ssh.Client, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for range t.C {
		if _, _, err := client.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			return
		}
	}
}

// deadlineConn gives each read and write of a connection timeout to
// complete.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

// Read reads with a deadline.
func (c *deadlineConn) Read(b []byte) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b)
}

// Write writes with a deadline.
func (c *deadlineConn) Write(b []byte) (int, error) {
	_ = c.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(b)
}

// closers closes each in turn.
type closers []io.Closer

// Close closes every closer, returning the first error.
func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
