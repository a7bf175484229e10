// Package edge holds the OS edges shared by the IKE sockets and the
// userspace ESP dataplane: the UDP sockets (with GSO/GRO batching) that
// carry IKE and ESP in UDP (RFC 3948), and the TUN device that carries inner
// packets, each behind a small interface. Linux implementations are
// here; in-memory twins are in edgetest.
package edge

import (
	"errors"
	"iter"
	"net/netip"
)

// Device is the TUN edge: one whole IP packet per Read or Write.
type Device interface {
	Read(b []byte) (int, error)
	Write(b []byte) (int, error)
	Close() error
}

// BatchDevice is a Device that can return several packets per call, as
// a TUN with offloads does when it cuts a TCP super-segment. One reader
// at a time.
type BatchDevice interface {
	Device
	// ReadBatch reads packets into bufs[i][offset:], sets sizes[i] to
	// their lengths and returns how many; at least one unless err is set.
	ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error)
}

// Datagram is one UDP datagram of a batch.
type Datagram struct {
	// Buf is the UDP payload. On receive it is the buffer to fill, and
	// is resliced to the datagram.
	Buf           []byte
	Local, Remote netip.AddrPort
	// Seg, on receive from a Bind with GRO on, is non-zero when Buf
	// holds a run of datagrams from Remote: each Seg octets long but
	// the last, which may be shorter. Send ignores it.
	Seg int
}

// Datagrams yields the datagrams that d holds: Buf itself, or each piece
// of a GRO run of Seg octets (the last may be shorter).
func (d *Datagram) Datagrams() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		seg := d.Seg
		if seg <= 0 || seg >= len(d.Buf) {
			yield(d.Buf)
			return
		}
		for off := 0; off < len(d.Buf); off += seg {
			if !yield(d.Buf[off:min(off+seg, len(d.Buf))]) {
				return
			}
		}
	}
}

// ReceiveFunc fills ds with received datagrams (each Buf is filled up to
// its capacity) and returns how many; it blocks until at least one
// arrives and returns an error wrapping ErrClosed once the Bind is closed.
type ReceiveFunc func(ds []Datagram) (int, error)

// Bind is the UDP edge of ESP-in-UDP (RFC 3948), normally port 4500.
type Bind interface {
	// ReceiveFuncs returns a function per socket to read; none when the
	// IKE socket reader owns receiving and hands ESP over itself.
	ReceiveFuncs() []ReceiveFunc
	// Send sends each datagram from its Local to its Remote address.
	Send(ds []Datagram) error
	Close() error
}

// ErrClosed is returned by Devices and Binds after Close.
var ErrClosed = errors.New("edge: closed")
