package tcpencap

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// stream is one TCP connection carrying frames. Its writer sends the
// queued frames in order; the queue is bounded and a frame that finds it
// full is dropped (RFC 9329 §6.4 leaves the reaction to congestion to
// the sender: IKE retransmits, ESP is datagram traffic), so that a peer
// that does not read never blocks the engine or the dataplane.
type stream struct {
	m         *Mux
	key       pair
	initiator bool // we connected: we send the prefix and reconnect

	mu     sync.Mutex
	c      net.Conn // nil while connecting
	closed bool
	// gone is set when the stream was closed on purpose (its IKE SA is
	// gone, or a newer stream replaced it): no reconnection.
	gone bool

	out  chan []byte
	done chan struct{}
}

// pair names the streams of one local and one remote address, the engine's
// view of an IKE SA's endpoints.
type pair struct{ local, remote netip.Addr }

func newStream(m *Mux, key pair, initiator bool, c net.Conn) *stream {
	return &stream{m: m, key: key, initiator: initiator, c: c,
		out: make(chan []byte, m.o.Queue), done: make(chan struct{})}
}

// enqueue queues one frame; it reports false when the queue is full or
// the stream closed (the frame is dropped).
func (s *stream) enqueue(f []byte) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.out <- f:
		return true
	default:
		return false
	}
}

// close ends the stream; gone says it is not to be reconnected.
func (s *stream) close(gone bool) {
	s.mu.Lock()
	if gone {
		s.gone = true
	}
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	c := s.c
	close(s.done)
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// closeFlushed closes the stream for good once the frames queued before
// are written (the last answer of its IKE SA, to a Delete, still goes
// out), or at once if the queue is full or the stream not connected. The
// nil frame is the writer's signal.
func (s *stream) closeFlushed() {
	s.mu.Lock()
	s.gone = true
	connected := s.c != nil
	s.mu.Unlock()
	if !connected {
		s.close(true)
		return
	}
	select {
	case s.out <- nil:
	default:
		s.close(true)
	}
}

// setConn gives a connecting stream its connection; false if the stream
// was closed meanwhile.
func (s *stream) setConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.c = c
	return true
}

func (s *stream) isGone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone
}

// writeLoop sends the queued frames. A write that does not finish within
// the write timeout (a peer that stopped reading) closes the stream.
func (s *stream) writeLoop(c net.Conn) {
	for {
		select {
		case <-s.done:
			return
		case f := <-s.out:
			// Frames already queued go out together, up to the
			// nil frame of closeFlushed.
			buf, last := f, f == nil
		more:
			for !last && len(buf) < 64<<10 {
				select {
				case g := <-s.out:
					last = g == nil
					buf = append(buf, g...)
				default:
					break more
				}
			}
			c.SetWriteDeadline(time.Now().Add(s.m.o.WriteTimeout))
			if _, err := c.Write(buf); err != nil {
				s.m.log.Warn("TCP stream write failed, closing it", "local", s.key.local, "remote", c.RemoteAddr(), "err", err)
				s.m.lost(s)
				return
			}
			if last {
				s.close(true)
				return
			}
		}
	}
}

// readLoop hands the stream's frames to the Mux's hooks until the stream
// fails or closes.
func (s *stream) readLoop(c net.Conn, r *Reader) {
	for {
		f, err := r.Next()
		if err != nil {
			select {
			case <-s.done:
			default:
				s.m.logReadError(s.key, c, err)
				s.m.lost(s)
			}
			return
		}
		s.m.deliver(s.key, f)
	}
}
