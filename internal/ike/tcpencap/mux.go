package tcpencap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Mux.
type Options struct {
	// Addrs are the local addresses to listen on (the responder's side);
	// none makes an initiator-only Mux.
	Addrs []netip.Addr
	// Port is the TCP port listened on and connected to; 0 means
	// DefaultPort.
	Port uint16
	// OnIKE receives the IKE messages of every stream, behind their
	// Non-ESP Marker, with the stream's local and remote addresses; data
	// is owned by the callee.
	OnIKE func(local, remote netip.Addr, data []byte)
	// OnESP receives the ESP packets of every stream; data is the
	// reader's buffer, valid only during the call. Without it they are
	// dropped.
	OnESP func(local, remote netip.Addr, data []byte)
	// Queue is the number of frames a stream holds for sending; 0 means
	// 512. A frame that finds the queue full is dropped.
	Queue int
	// FrameTimeout bounds the arrival of the prefix and of each frame
	// once begun, and the wait of a new stream for its prefix; 0 means
	// 10 s.
	FrameTimeout time.Duration
	// WriteTimeout bounds one write to a stream; 0 means 10 s.
	WriteTimeout time.Duration
	// Reconnect is the wait before the initiator reconnects a stream the
	// network closed; 0 means 1 s.
	Reconnect time.Duration
	// Logger receives stream events; nil discards.
	Logger *slog.Logger
}

// Mux owns the TCP streams of IKE and ESP: the listeners of the
// responder's side and the streams the initiator connects. Streams are
// known by their local and remote addresses: one stream per pair, a new
// one replacing the old (RFC 9329 §6.2: the peer may come back from
// another port after a NAT lost its mapping). The initiator of a stream
// owns its reconnection; the responder never connects (§6.2).
type Mux struct {
	o   Options
	log *slog.Logger

	mu      sync.Mutex
	lns     map[netip.AddrPort]net.Listener
	port    uint16 // connected to; o.Port until SetListeners
	streams map[pair]*stream
	// dialed are the pairs we connect (until Release): their ESP and
	// IKE reconnect a lost stream. claimed are the pairs whose stream a
	// peer connected and an IKE SA answers on (Claim, until Release):
	// their ESP waits for the peer to reconnect rather than go over UDP.
	// A stream no IKE SA claimed carries nothing of ours.
	dialed, claimed map[pair]bool
	closed          bool
	// pairs counts the entries of streams, dialed and claimed, for
	// Carries to answer without the lock when there are none (the
	// dataplane asks for every ESP packet).
	pairs atomic.Int32

	wg sync.WaitGroup
}

// Listen opens the listeners of o and starts accepting streams.
func Listen(o Options) (*Mux, error) {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Queue <= 0 {
		o.Queue = 512
	}
	if o.FrameTimeout <= 0 {
		o.FrameTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Reconnect <= 0 {
		o.Reconnect = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Mux{o: o, log: o.Logger.With("subsystem", "network"), port: o.Port, lns: map[netip.AddrPort]net.Listener{},
		streams: map[pair]*stream{}, dialed: map[pair]bool{}, claimed: map[pair]bool{}}
	if err := m.SetListeners(o.Addrs, o.Port); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// SetListeners makes the Mux listen on port of exactly the addresses
// addrs (none: initiator only) and connect to port from now on. The
// listeners of other addresses or ports close; their streams stay. It
// opens what it can and returns the first error.
func (m *Mux) SetListeners(addrs []netip.Addr, port uint16) error {
	if port == 0 {
		port = DefaultPort
	}
	want := map[netip.AddrPort]bool{}
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || a.IsUnspecified() {
			return fmt.Errorf("tcpencap: cannot listen on %v: a specific address is needed", a)
		}
		want[netip.AddrPortFrom(a, port)] = true
	}
	m.mu.Lock()
	defer m.unlock()
	if m.closed {
		return net.ErrClosed
	}
	m.port = port
	for ap, ln := range m.lns {
		if !want[ap] {
			ln.Close()
			delete(m.lns, ap)
		}
	}
	var first error
	for ap := range want {
		if m.lns[ap] != nil {
			continue
		}
		ln, err := net.Listen("tcp", ap.String())
		if err != nil {
			if first == nil {
				first = fmt.Errorf("tcpencap: %w", err)
			}
			continue
		}
		m.lns[ap] = ln
		m.wg.Add(1)
		go m.accept(ap.Addr(), ln)
	}
	return first
}

// Addr returns the address of the listener of a, or an invalid one.
func (m *Mux) Addr(a netip.Addr) netip.AddrPort {
	m.mu.Lock()
	defer m.unlock()
	for ap, ln := range m.lns {
		if ap.Addr() == a.Unmap() {
			real := ln.Addr().(*net.TCPAddr).AddrPort()
			return netip.AddrPortFrom(ap.Addr(), real.Port())
		}
	}
	return netip.AddrPort{}
}

func (m *Mux) accept(local netip.Addr, ln net.Listener) {
	defer m.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("TCP accept failed", "local", local, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go m.serve(local, c)
	}
}

// serve waits for the prefix of an accepted stream, then makes it the
// stream of its address pair.
func (m *Mux) serve(local netip.Addr, c net.Conn) {
	remote := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	r := NewReader(c, m.o.FrameTimeout)
	if err := r.ReadPrefix(); err != nil {
		m.log.Warn("TCP stream refused: no valid IKETCP prefix", "local", local, "remote", c.RemoteAddr(), "err", readErr(err))
		c.Close()
		return
	}
	s := newStream(m, pair{local, remote}, false, c)
	if !m.install(s) {
		c.Close()
		return
	}
	m.log.Info("TCP stream accepted", "local", local, "remote", c.RemoteAddr())
	go s.writeLoop(c)
	s.readLoop(c, r)
}

// install makes s the stream of its pair, closing the one it replaces.
func (m *Mux) install(s *stream) bool {
	m.mu.Lock()
	if m.closed {
		m.unlock()
		return false
	}
	old := m.streams[s.key]
	m.streams[s.key] = s
	m.unlock()
	if old != nil {
		m.log.Info("TCP stream replaced by a new one", "local", s.key.local, "remote", s.key.remote)
		old.close(true)
	}
	return true
}

// deliver hands one frame to the hooks.
func (m *Mux) deliver(k pair, f []byte) {
	if IsIKE(f) {
		if m.o.OnIKE != nil {
			m.o.OnIKE(k.local, k.remote, append([]byte(nil), f...))
		}
		return
	}
	if m.o.OnESP != nil {
		m.o.OnESP(k.local, k.remote, f)
	}
}

// lost forgets a stream that failed; the initiator reconnects it after
// the reconnect delay if its IKE SA still wants it.
func (m *Mux) lost(s *stream) {
	s.close(false)
	m.mu.Lock()
	if m.streams[s.key] == s {
		delete(m.streams, s.key)
	}
	again := s.initiator && !s.isGone() && m.dialed[s.key] && !m.closed
	m.unlock()
	if again {
		m.log.Info("TCP stream lost, reconnecting", "local", s.key.local, "remote", s.key.remote, "after", m.o.Reconnect)
		time.AfterFunc(m.o.Reconnect, func() { m.reconnect(s.key) })
	}
}

// reconnect connects the stream of k again unless its IKE SA released it
// meanwhile.
func (m *Mux) reconnect(k pair) {
	m.mu.Lock()
	want := m.dialed[k]
	m.unlock()
	if want {
		m.get(k, true)
	}
}

// get returns the stream of k; with dial, a missing one is connected (we
// become its initiator).
func (m *Mux) get(k pair, dial bool) *stream {
	m.mu.Lock()
	defer m.unlock()
	if s := m.streams[k]; s != nil || !dial || m.closed {
		return s
	}
	s := newStream(m, k, true, nil)
	m.streams[k] = s
	m.dialed[k] = true
	go m.connect(s)
	return s
}

// connect dials the stream's peer from its local address, sends the
// prefix and starts the stream; the frames queued meanwhile follow.
func (m *Mux) connect(s *stream) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.key.local, 0)), Timeout: m.o.FrameTimeout}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	m.mu.Lock()
	port := m.port
	m.unlock()
	to := net.JoinHostPort(s.key.remote.String(), strconv.Itoa(int(port)))
	c, err := d.DialContext(ctx, "tcp", to)
	cancel()
	if err != nil {
		m.log.Warn("TCP stream connect failed", "local", s.key.local, "remote", to, "err", err)
		m.lost(s)
		return
	}
	c.SetWriteDeadline(time.Now().Add(m.o.WriteTimeout))
	if _, err := io.WriteString(c, Prefix); err != nil || !s.setConn(c) {
		c.Close()
		m.lost(s)
		return
	}
	m.log.Info("TCP stream connected", "local", c.LocalAddr(), "remote", to)
	go s.writeLoop(c)
	s.readLoop(c, NewReader(c, m.o.FrameTimeout))
}

// Send queues one IKE message (behind its Non-ESP Marker) or ESP packet
// for the stream from local to remote. With dial a missing stream is
// connected (the IKE initiator's side); without, an ESP packet or IKE
// message for a pair whose stream is gone waits for its initiator to
// reconnect, unless we are that initiator: then the stream is reconnected
// now. A full queue drops the packet.
func (m *Mux) Send(local, remote netip.Addr, pkt []byte, dial bool) error {
	k := pair{local.Unmap(), remote.Unmap()}
	if !dial {
		m.mu.Lock()
		dial = m.dialed[k]
		m.unlock()
	}
	s := m.get(k, dial)
	if s == nil {
		return fmt.Errorf("tcpencap: no TCP stream from %v to %v", local, remote)
	}
	f, err := AppendFrame(make([]byte, 0, len(pkt)+lenSize), pkt)
	if err != nil {
		return err
	}
	if !s.enqueue(f) {
		return fmt.Errorf("tcpencap: TCP stream to %v is full or closed: packet dropped", remote)
	}
	return nil
}

// Has reports whether a stream (connected or connecting) joins local and
// remote.
func (m *Mux) Has(local, remote netip.Addr) bool {
	m.mu.Lock()
	defer m.unlock()
	return m.streams[pair{local.Unmap(), remote.Unmap()}] != nil
}

// unlock releases m.mu after updating pairs.
func (m *Mux) unlock() {
	m.pairs.Store(int32(len(m.streams) + len(m.dialed) + len(m.claimed)))
	m.mu.Unlock()
}

// Carries reports whether the traffic between local and remote belongs to
// a stream of an IKE SA (we connected it, or Claim), even one lost for
// the moment: the ESP of an IKE SA over TCP goes over its stream or
// nowhere, never over UDP.
func (m *Mux) Carries(local, remote netip.Addr) bool {
	if m.pairs.Load() == 0 {
		return false
	}
	k := pair{local.Unmap(), remote.Unmap()}
	m.mu.Lock()
	defer m.unlock()
	return m.dialed[k] || m.claimed[k]
}

// Claim says that an IKE SA answers on the stream a peer connected from
// remote to local: the traffic between them is the stream's from now on
// (Carries), until Release.
func (m *Mux) Claim(local, remote netip.Addr) {
	k := pair{local.Unmap(), remote.Unmap()}
	m.mu.Lock()
	defer m.unlock()
	if !m.dialed[k] {
		m.claimed[k] = true
	}
}

// Release closes the stream of local and remote and stops reconnecting
// it: its IKE SA is gone (RFC 9329 §6.2).
func (m *Mux) Release(local, remote netip.Addr) {
	k := pair{local.Unmap(), remote.Unmap()}
	m.mu.Lock()
	s := m.streams[k]
	had := s != nil || m.dialed[k] || m.claimed[k]
	delete(m.streams, k)
	delete(m.dialed, k)
	delete(m.claimed, k)
	m.unlock()
	if had {
		// Also when the stream is lost for the moment: it will not
		// be reconnected.
		m.log.Info("TCP stream closed: no IKE SA uses it", "local", k.local, "remote", k.remote)
	}
	if s != nil {
		s.closeFlushed()
	}
}

// Close closes the listeners and every stream.
func (m *Mux) Close() error {
	m.mu.Lock()
	m.closed = true
	ss := m.streams
	m.streams = map[pair]*stream{}
	for _, ln := range m.lns {
		ln.Close()
	}
	m.unlock()
	for _, s := range ss {
		s.close(true)
	}
	m.wg.Wait()
	return nil
}

// logReadError says why a stream ended.
func (m *Mux) logReadError(k pair, c net.Conn, err error) {
	switch {
	case errors.Is(err, io.EOF):
		m.log.Info("TCP stream closed by the peer", "local", k.local, "remote", c.RemoteAddr())
	case errors.Is(err, ErrShortFrame), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF):
		m.log.Warn("TCP stream closed: bad input", "local", k.local, "remote", c.RemoteAddr(), "err", readErr(err))
	default:
		m.log.Warn("TCP stream failed", "local", k.local, "remote", c.RemoteAddr(), "err", err)
	}
}

// readErr names a read deadline as what it means here.
func readErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("tcpencap: peer too slow: a frame or the prefix did not arrive in time: %w", err)
	}
	return err
}
