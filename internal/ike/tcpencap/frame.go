// Package tcpencap is the engine's TCP edge: IKE and ESP over TCP streams
// (RFC 9329), beside the UDP sockets of internal/ike/udpconn.
//
// A stream starts with the six-octet prefix "IKETCP", sent once by the
// stream's initiator (§4); after it, every IKE message and ESP packet is a
// frame: a 16-bit Length in network order that counts itself, then the
// packet (§3). IKE messages carry the four-zero-octet Non-ESP Marker after
// the Length (§3.1), ESP packets start with their non-zero SPI (§3.2). The
// engine already adds and strips the Non-ESP Marker as on UDP port 4500,
// so frames are handed over with it.
package tcpencap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"secgw/internal/ipsec"
)

// Prefix is the TCP-Encapsulated Stream Prefix (RFC 9329 §4).
const Prefix = "IKETCP"

// DefaultPort is the TCP port of IKE and ESP over TCP when none is
// configured (RFC 9329 §6.1 suggests the NAT-T port).
const DefaultPort = 4500

// lenSize is the size of the Length field (RFC 9329 §3).
const lenSize = 2

// MaxPacket is the largest IKE message (with its Non-ESP Marker) or ESP
// packet a frame holds: the 16-bit Length counts itself.
const MaxPacket = 0xffff - lenSize

// minPacket is the smallest frame content accepted: a Non-ESP Marker or an
// SPI; anything shorter is neither IKE nor ESP.
const minPacket = ipsec.NonESPMarkerLen

// Errors of the stream framing; a stream that yields one is closed.
var (
	ErrBadPrefix  = errors.New("tcpencap: stream does not start with the IKETCP prefix")
	ErrShortFrame = errors.New("tcpencap: frame too short for IKE or ESP")
	ErrTooLong    = errors.New("tcpencap: packet too long for one frame")
)

// AppendFrame appends the frame of pkt (an IKE message behind its Non-ESP
// Marker, or an ESP packet) to dst.
func AppendFrame(dst, pkt []byte) ([]byte, error) {
	if len(pkt) > MaxPacket {
		return dst, ErrTooLong
	}
	if len(pkt) < minPacket {
		return dst, ErrShortFrame
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(pkt)+lenSize))
	return append(dst, pkt...), nil
}

// Reader splits a stream into frames. Between frames the stream may idle
// for as long as it likes (the IKE SA's liveness checks watch it); once a
// frame or the prefix has begun, the rest must arrive within Timeout, so
// that a peer that writes slowly or declares more than it sends cannot
// hold the stream.
type Reader struct {
	c       net.Conn
	r       *bufio.Reader
	buf     []byte
	timeout time.Duration
}

// NewReader reads frames from c; timeout bounds the arrival of each frame
// and of the prefix once their first octet came (0 means no bound).
func NewReader(c net.Conn, timeout time.Duration) *Reader {
	return &Reader{c: c, r: bufio.NewReaderSize(c, 4096), buf: make([]byte, MaxPacket), timeout: timeout}
}

// ReadPrefix reads and checks the stream prefix (the responder's side,
// RFC 9329 §4: nothing is parsed before all of it came); all of it must
// come within the timeout.
func (r *Reader) ReadPrefix() error {
	var p [len(Prefix)]byte
	if r.timeout > 0 {
		r.c.SetReadDeadline(time.Now().Add(r.timeout))
	}
	if _, err := io.ReadFull(r.r, p[:]); err != nil {
		return err
	}
	if string(p[:]) != Prefix {
		return fmt.Errorf("%w (got %q)", ErrBadPrefix, p[:])
	}
	return nil
}

// Next returns the content of the next frame: valid until the next call.
func (r *Reader) Next() ([]byte, error) {
	var l [lenSize]byte
	if err := r.readFull(l[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n < lenSize+minPacket {
		return nil, fmt.Errorf("%w: length %d", ErrShortFrame, n)
	}
	b := r.buf[:n-lenSize]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, fmt.Errorf("tcpencap: frame of length %d cut short: %w", n, err)
	}
	return b, nil
}

// readFull waits without a deadline for the first octet of b, then gives
// the rest of b and of what follows (the frame) the timeout.
func (r *Reader) readFull(b []byte) error {
	if r.timeout > 0 {
		r.c.SetReadDeadline(time.Time{})
	}
	if _, err := r.r.Peek(1); err != nil {
		return err
	}
	if r.timeout > 0 {
		r.c.SetReadDeadline(time.Now().Add(r.timeout))
	}
	if _, err := io.ReadFull(r.r, b); err != nil {
		return fmt.Errorf("tcpencap: cut short: %w", err)
	}
	return nil
}

// IsIKE reports whether the content of a frame is an IKE message (behind
// the Non-ESP Marker) rather than an ESP packet.
func IsIKE(pkt []byte) bool {
	return ipsec.ClassifyNATT(pkt) == ipsec.PacketIKE
}
