package ha

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// session is one connection of the link, after its handshake.
type session struct {
	conn       net.Conn
	send, recv *sealer
	kick       chan struct{}
	done       chan struct{}
	once       sync.Once
}

func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		_ = s.conn.Close()
	})
}

// dialLoop connects node 1 to node 2, again after every loss, with a
// backoff that doubles from backoffMin to backoffMax and restarts after a
// session that lasted.
func (n *Node) dialLoop() {
	defer n.wg.Done()
	backoff := backoffMin
	for n.ctx.Err() == nil {
		conn, err := n.dial()
		if err == nil {
			start := time.Now()
			n.serve(conn)
			if time.Since(start) > backoffMax {
				backoff = backoffMin
			}
		} else {
			n.log.Debug("HA peer not reachable", "err", err)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func (n *Node) dial() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(n.ctx, handshakeTimeout)
	defer cancel()
	if n.cfg.Dial != nil {
		return n.cfg.Dial(ctx)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: n.cfg.Local.AsSlice()}, Control: bindDevice(n.cfg.Interface)}
	return d.DialContext(ctx, "tcp", net.JoinHostPort(n.cfg.Remote.String(), strconv.Itoa(int(n.cfg.Port))))
}

// acceptLoop takes node 2's connections from node 1 (only from the
// remote address); a new one replaces the current one, whose peer has
// restarted or lost it.
func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			n.log.Error("HA accept", "err", err)
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(backoffMin):
			}
			continue
		}
		if n.cfg.NodeID == 1 {
			// Node 1 dials: a connection to it is not the peer's.
			n.reject(conn, "node 1 accepts no connection (it dials)")
			continue
		}
		if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
			if ip, _ := netip.AddrFromSlice(a.IP); ip.Unmap() != n.cfg.Remote.Unmap() {
				n.reject(conn, "connection from "+ip.String()+", not from the remote address")
				continue
			}
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.serve(conn)
		}()
	}
}

func (n *Node) reject(conn net.Conn, why string) {
	n.mu.Lock()
	n.stats.Rejected++
	n.mu.Unlock()
	_ = conn.Close()
	n.log.Warn("HA connection refused", "reason", why)
}

// handshake exchanges node-ids and nonces and derives the session keys.
func (n *Node) handshake(conn net.Conn) (*session, error) {
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	defer func() { _ = conn.SetDeadline(time.Time{}) }()
	local, err := newHandshake(n.cfg.NodeID)
	if err != nil {
		return nil, err
	}
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(local.marshal())
		werr <- err
	}()
	buf := make([]byte, hsLen)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	if err := <-werr; err != nil {
		return nil, err
	}
	remote, err := parseHandshake(buf)
	if err != nil {
		return nil, err
	}
	if remote.nodeID != n.peerID() {
		return nil, errors.New("ha: the peer has node-id " + strconv.Itoa(int(remote.nodeID)) + ", not " + strconv.Itoa(int(n.peerID())))
	}
	sk, rk, err := sessionKeys(n.cfg.Secret, local, remote)
	if err != nil {
		return nil, err
	}
	s := &session{conn: conn, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if s.send, err = newSealer(sk); err != nil {
		return nil, err
	}
	if s.recv, err = newSealer(rk); err != nil {
		return nil, err
	}
	return s, nil
}

// serve runs a connection until it fails: handshake, then a writer and
// the reader. The link is up from the handshake on.
func (n *Node) serve(conn net.Conn) {
	s, err := n.handshake(conn)
	if err != nil {
		n.reject(conn, err.Error())
		return
	}
	n.mu.Lock()
	if n.ctx.Err() != nil {
		n.mu.Unlock()
		s.close()
		return
	}
	old := n.sess
	n.sess, n.peerRole, n.peerSync, n.synced = s, peerUnknown, false, false
	// The active sends a snapshot on every (re)connect, once the peer's
	// hello says it is not active.
	n.resync, n.queue, n.queued = true, nil, 0
	n.mu.Unlock()
	if old != nil {
		old.close()
	}
	n.log.Info("HA link up", "peer", conn.RemoteAddr().String())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.writer(s)
	}()
	err = n.reader(s)
	s.close()
	wg.Wait()
	n.mu.Lock()
	mine := n.sess == s
	if mine {
		n.sess, n.peerRole, n.queue, n.queued, n.snap = nil, peerUnknown, nil, 0, nil
	}
	n.mu.Unlock()
	if mine && n.ctx.Err() == nil {
		n.log.Warn("HA link down", "err", err)
		_, _ = n.reevaluate("link down")
	}
}

// reader opens and handles the peer's frames until one fails: a frame
// that does not open, or a message that does not decode, closes the link
// and counts as rejected.
func (n *Node) reader(s *session) error {
	var buf []byte
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(deadAfter))
		var pt []byte
		var err error
		pt, buf, err = s.recv.readFrame(s.conn, buf)
		if err == nil {
			var m Message
			if m, err = ParseMessage(pt); err == nil {
				n.handle(m)
				continue
			}
		}
		if errors.Is(err, errOpen) || !isNetErr(err) {
			n.mu.Lock()
			n.stats.Rejected++
			n.mu.Unlock()
			n.log.Error("HA message rejected: link closed", "err", err)
		}
		return err
	}
}

// isNetErr tells a connection's end from a bad frame.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// writer sends the hello every helloInterval, the snapshot when one is
// due, and the queue.
func (n *Node) writer(s *session) {
	t := time.NewTicker(helloInterval)
	defer t.Stop()
	hello := true
	for {
		if hello {
			if err := n.write(s, n.hello()); err != nil {
				s.close()
				return
			}
			hello = false
		}
		for {
			b, snap := n.next()
			if snap {
				if err := n.snapshot(s); err != nil {
					s.close()
					return
				}
				continue
			}
			if b == nil {
				break
			}
			if err := n.writeRaw(s, b); err != nil {
				s.close()
				return
			}
		}
		select {
		case <-s.done:
			return
		case <-t.C:
			hello = true
		case <-s.kick:
			n.mu.Lock()
			hello, n.helloDue = n.helloDue, false
			n.mu.Unlock()
		}
	}
}

// next pops the queue, or says a snapshot is due (active, and the peer
// known not to be active).
func (n *Node) next() ([]byte, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.resync && n.role == RoleActive && n.peerRole != peerUnknown && n.peerRole != RoleActive {
		n.resync, n.queue, n.queued = false, nil, 0
		return nil, true
	}
	if len(n.queue) == 0 {
		return nil, false
	}
	b := n.queue[0]
	n.queue[0] = nil
	n.queue = n.queue[1:]
	n.queued -= len(b)
	return b, false
}

func (n *Node) hello() Hello {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Hello{NodeID: n.cfg.NodeID, Role: n.role, Synced: n.synced}
}

func (n *Node) write(s *session, m Message) error {
	b, err := AppendMessage(nil, m)
	if err != nil {
		return err
	}
	return n.writeRaw(s, b)
}

func (n *Node) writeRaw(s *session, b []byte) error {
	frame, err := s.send.seal(nil, b)
	if err != nil {
		return err
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.conn.Write(frame); err != nil {
		return err
	}
	n.mu.Lock()
	n.stats.Sent++
	n.mu.Unlock()
	return nil
}

// snapshot sends every IKE SA and every ESP SA's numbers, between
// snapshot-begin and snapshot-end, from the writer: straight to the
// connection, not through the bounded queue (10k SAs are more than it
// holds). Updates the engine makes meanwhile queue behind it, in order.
func (n *Node) snapshot(s *session) error {
	if err := n.write(s, SnapshotBegin{}); err != nil {
		return err
	}
	// The records are copied out first: the engine's locks are not held
	// while a slow peer's socket blocks.
	type rec struct {
		id  saID
		rec []byte
	}
	var recs []rec
	n.eng.Snapshot(func(spiI, spiR uint64, b []byte) {
		recs = append(recs, rec{saID{spiI, spiR}, append([]byte(nil), b...)})
	})
	sent := make(map[saID]struct{}, len(recs))
	for i, r := range recs {
		if err := n.write(s, SAUpdate{SPIi: r.id.i, SPIr: r.id.r, Record: r.rec}); err != nil {
			return err
		}
		recs[i].rec = nil
		sent[r.id] = struct{}{}
	}
	entries := n.readSeqs()
	for len(entries) > 0 {
		k := min(len(entries), maxSeqEntries)
		if err := n.write(s, SeqBatch{Entries: entries[:k]}); err != nil {
			return err
		}
		entries = entries[k:]
	}
	if err := n.snapshotLeases(s); err != nil {
		return err
	}
	if err := n.write(s, SnapshotEnd{SAs: uint32(len(sent))}); err != nil {
		return err
	}
	n.mu.Lock()
	n.stats.Resync++
	n.stats.LastSync = time.Now()
	for id := range n.sas {
		if _, ok := sent[id]; !ok {
			delete(n.sas, id)
		}
	}
	for id := range sent {
		n.sas[id] = struct{}{}
	}
	n.mu.Unlock()
	n.log.Info("HA snapshot sent", "ike-sas", len(sent))
	return nil
}

// snapshotLeases sends every lease of the HA pools, in messages of at
// most maxLeases leases and about leaseBatchBytes bytes. The leases are
// copied out first: the pools' lock is not held while the socket blocks.
func (n *Node) snapshotLeases(s *session) error {
	if n.cfg.Leases == nil {
		return nil
	}
	var all []Lease
	n.cfg.Leases.LeaseSnapshot(func(l Lease) { all = append(all, l) })
	var batch []Lease
	size := 0
	for i, l := range all {
		batch = append(batch, l)
		size += 24 + len(l.Pool) + len(l.Identity)
		if size >= leaseBatchBytes || len(batch) == maxLeases || i == len(all)-1 {
			if err := n.write(s, Leases{Leases: batch}); err != nil {
				return err
			}
			batch, size = batch[:0], 0
		}
	}
	return nil
}

// leaseBatchBytes is the size a snapshot's lease message stays near (far
// below maxRecord: one lease is at most 64 KiB + 280 bytes).
const leaseBatchBytes = 256 << 10

// readSeqs reads the numbers of every installed ESP SA and records them
// as sent.
func (n *Node) readSeqs() []SeqEntry {
	if n.src == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(n.ctx, writeTimeout)
	defer cancel()
	entries, err := n.src.Seqs(ctx)
	if err != nil {
		n.log.Error("HA: reading sequence numbers", "err", err)
		return nil
	}
	n.mu.Lock()
	n.store = make(map[SeqKey]SeqEntry, len(entries))
	for _, e := range entries {
		n.store[e.Key] = e
	}
	n.mu.Unlock()
	return entries
}
