package xfrm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
)

// Netlink socket options not named by x/sys/unix on every version.
const (
	netlinkCapAck   = 10     // NETLINK_CAP_ACK: error replies without the request
	netlinkExtAck   = 11     // NETLINK_EXT_ACK: error replies with a message
	nlmsgerrAttrMsg = 1      // NLMSGERR_ATTR_MSG
	nlaTypeMask     = 0x3fff // NLA_TYPE_MASK: without the nested/byte-order flags
)

// sizes of the socket buffers: a batch of 256 ops whose every op fails
// must fit its error replies in the receive buffer.
const (
	sndBuf = 4 << 20
	rcvBuf = 8 << 20
)

// conn is a NETLINK_XFRM socket for requests: one outstanding batch at a
// time (its users serialize), replies read synchronously (the kernel
// handles a request inside sendmsg, so its replies are queued when
// sendmsg returns; dumps are produced inside recvmsg).
type conn struct {
	fd  int
	seq uint32
	buf []byte
}

func openConn(ns netns.NsHandle) (*conn, error) {
	var fd int
	err := netnsutil.Run(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_XFRM)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("xfrm: netlink socket: %w", err)
	}
	c := &conn{fd: fd, buf: make([]byte, 64<<10), seq: uint32(time.Now().UnixNano())}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		c.close()
		return nil, fmt.Errorf("xfrm: bind netlink socket: %w", err)
	}
	// Best effort: small error replies with the kernel's reason.
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, netlinkCapAck, 1)
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, netlinkExtAck, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBuf)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	// A safety net: a reply that never comes fails instead of hanging.
	tv := unix.NsecToTimeval(int64(10 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return c, nil
}

func (c *conn) close() error { return unix.Close(c.fd) }

func (c *conn) nextSeq() uint32 {
	c.seq++
	if c.seq == 0 {
		c.seq++
	}
	return c.seq
}

func (c *conn) send(b []byte) error {
	if err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("xfrm: netlink send: %w", err)
	}
	return nil
}

// recv reads one datagram and calls fn for each netlink message in it.
func (c *conn) recv(fn func(h header, payload []byte) error) error {
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("xfrm: netlink receive: %w", err)
		}
		return walkMessages(c.buf[:n], fn)
	}
}

// header is a netlink message header (struct nlmsghdr).
type header struct {
	Len   uint32
	Type  uint16
	Flags uint16
	Seq   uint32
	Pid   uint32
}

const headerLen = 16

// walkMessages splits a datagram into netlink messages.
func walkMessages(b []byte, fn func(h header, payload []byte) error) error {
	for len(b) >= headerLen {
		h := header{
			Len: ne.Uint32(b), Type: ne.Uint16(b[4:]), Flags: ne.Uint16(b[6:]),
			Seq: ne.Uint32(b[8:]), Pid: ne.Uint32(b[12:]),
		}
		if h.Len < headerLen || int(h.Len) > len(b) {
			return errors.New("xfrm: malformed netlink message")
		}
		if err := fn(h, b[headerLen:h.Len]); err != nil {
			return err
		}
		b = b[min(align4(int(h.Len)), len(b)):]
	}
	return nil
}

var ne = binary.NativeEndian

func align4(n int) int { return (n + 3) &^ 3 }

// Flags of an NLMSG_ERROR reply (linux/netlink.h).
const (
	nlmFCapped  = 0x100 // NLM_F_CAPPED: the request is not echoed
	nlmFAckTLVs = 0x200 // NLM_F_ACK_TLVS: extended ack attributes follow
)

// parseError decodes an NLMSG_ERROR message: a nil error is an ack. seq
// is the sequence number of the request it answers.
func parseError(h header, payload []byte) (err error, seq uint32, ok bool) {
	if len(payload) < 4+headerLen {
		return nil, 0, false
	}
	errno := -int32(ne.Uint32(payload))
	seq = ne.Uint32(payload[4+8:])
	if errno == 0 {
		return nil, seq, true
	}
	e := &nlError{errno: unix.Errno(errno)}
	rest := payload[4+headerLen:]
	if h.Flags&nlmFCapped == 0 {
		// The request is echoed whole after its header.
		orig := int(ne.Uint32(payload[4:]))
		skip := min(max(align4(orig)-headerLen, 0), len(rest))
		rest = rest[skip:]
	}
	if h.Flags&nlmFAckTLVs != 0 {
		walkAttrs(rest, func(typ uint16, v []byte) {
			if typ == nlmsgerrAttrMsg {
				if i := bytes.IndexByte(v, 0); i >= 0 {
					v = v[:i]
				}
				e.msg = string(v)
			}
		})
	}
	return e, seq, true
}

// nlError is a kernel error reply. It matches dataplane.ErrExist
// (EEXIST) and dataplane.ErrNotFound (ENOENT, ESRCH) with errors.Is.
type nlError struct {
	errno unix.Errno
	msg   string
}

func (e *nlError) Error() string {
	if e.msg != "" {
		return "xfrm: " + e.errno.Error() + ": " + e.msg
	}
	return "xfrm: " + e.errno.Error()
}

func (e *nlError) Unwrap() error { return e.errno }

func (e *nlError) Is(target error) bool {
	switch target {
	case dataplane.ErrExist:
		return e.errno == unix.EEXIST
	case dataplane.ErrNotFound:
		return e.errno == unix.ENOENT || e.errno == unix.ESRCH
	}
	return false
}

// request sends one message with NLM_F_ACK and returns the payload of the
// reply of type want (0: only the ack).
func (c *conn) request(typ uint16, flags uint16, body func(m *msg), want uint16) ([]byte, error) {
	var m msg
	seq := c.nextSeq()
	m.begin(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags, seq)
	body(&m)
	m.end()
	if err := c.send(m.b); err != nil {
		return nil, err
	}
	var reply []byte
	for done := false; !done; {
		err := c.recv(func(h header, p []byte) error {
			if h.Seq != seq {
				return nil // a late reply to an earlier request
			}
			switch h.Type {
			case unix.NLMSG_ERROR:
				err, _, ok := parseError(h, p)
				if !ok {
					return errors.New("xfrm: short netlink error message")
				}
				done = true
				return err
			case want:
				reply = append([]byte(nil), p...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return reply, nil
}

// dump sends a dump request and calls fn for each reply message of type
// want. An interrupted dump (the table changed under it) is restarted.
func (c *conn) dump(typ, want uint16, fn func(payload []byte) error) error {
	for try := 0; ; try++ {
		var m msg
		seq := c.nextSeq()
		m.begin(typ, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
		m.end()
		if err := c.send(m.b); err != nil {
			return err
		}
		intr, done := false, false
		for !done {
			err := c.recv(func(h header, p []byte) error {
				if h.Seq != seq || done {
					return nil
				}
				if h.Flags&unix.NLM_F_DUMP_INTR != 0 {
					intr = true
				}
				switch h.Type {
				case unix.NLMSG_DONE:
					done = true
				case unix.NLMSG_ERROR:
					done = true
					if err, _, _ := parseError(h, p); err != nil {
						return err
					}
				case want:
					if !intr {
						return fn(p)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if !intr {
			return nil
		}
		if try == 3 {
			return errors.New("xfrm: dump interrupted repeatedly")
		}
	}
}

// eventConn is a NETLINK_XFRM socket subscribed to multicast groups, read
// through the Go poller so that Close unblocks its reader.
type eventConn struct {
	f   *os.File
	buf []byte
}

func openEvents(ns netns.NsHandle, groups ...uint32) (*eventConn, error) {
	var fd int
	err := netnsutil.Run(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_XFRM)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("xfrm: netlink event socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("xfrm: bind netlink event socket: %w", err)
	}
	for _, g := range groups {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, int(g)); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("xfrm: join netlink group %d: %w", g, err)
		}
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	return &eventConn{f: os.NewFile(uintptr(fd), "netlink-xfrm-events"), buf: make([]byte, 64<<10)}, nil
}

// read blocks until a datagram arrives or the socket is closed.
func (e *eventConn) read() ([]byte, error) {
	rc, err := e.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), e.buf, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	return e.buf[:n], nil
}

func (e *eventConn) close() error { return e.f.Close() }
