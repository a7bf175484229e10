package ha

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	addr1  = netip.MustParseAddr("127.0.0.1")
	addr2  = netip.MustParseAddr("127.0.0.2")
	secret = []byte("0123456789abcdef0123456789abcdef")
)

// freePort returns a TCP port free on loopback.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

type tcpListener struct {
	net.Listener
	port uint16
}

func netListen() (*tcpListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &tcpListener{ln, uint16(ln.Addr().(*net.TCPAddr).Port)}, nil
}

func testLogger(t *testing.T) *slog.Logger {
	if t != nil && testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

// nodeConfig is node id's configuration on loopback (node 1 on
// 127.0.0.1, node 2 on 127.0.0.2).
func nodeConfig(t *testing.T, id uint8, port uint16) Config {
	local, remote := addr1, addr2
	if id == 2 {
		local, remote = addr2, addr1
	}
	return Config{NodeID: id, Local: local, Remote: remote, Port: port, Secret: secret,
		OSeqShift: 65536, Logger: testLogger(t)}
}

func start(t *testing.T, cfg Config, e *fakeEngine, s SeqSource) *Node {
	t.Helper()
	n := New(cfg, e, s)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// waitFor polls cond until it holds, failing after a generous bound (a
// loaded machine; this measures nothing).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func notify(t *testing.T, n *Node, s VRRPState, want Role) {
	t.Helper()
	got, err := n.Notify(s)
	if err != nil || got != want {
		t.Fatalf("notify %s: role %s, %v; want %s", s, got, err, want)
	}
}

// TestLinkSnapshotIncremental: node 1 is active with SAs when node 2
// joins: node 2 gets a snapshot, then each update and delete, then the
// sequence numbers every sync-period-time; at its takeover the engine is
// given them with oseq-shift.
func TestLinkSnapshotIncremental(t *testing.T) {
	port := freePort(t)
	e1, e2 := newFakeEngine(), newFakeEngine()
	s1 := newFakeSeqs()
	k := SeqKey{Dst: netip.MustParseAddr("192.0.2.9"), SPI: 0xc1}
	s1.set(SeqEntry{Key: k, Out: true, Seq: Seq{OSeq: 100}})
	c1 := nodeConfig(t, 1, port)
	c1.SyncPeriod = 50 * time.Millisecond
	n1 := start(t, c1, e1, s1)
	notify(t, n1, VRRPMaster, RoleActive)
	e1.put(n1, 1, 2, "a")
	e1.put(n1, 3, 4, "b")
	if q := n1.Stats().Queued; q != 0 {
		t.Fatalf("updates queued with no peer: %d bytes", q)
	}

	n2 := start(t, nodeConfig(t, 2, port), e2, nil)
	if e2.isActive() {
		t.Fatal("node 2's engine active in init")
	}
	notify(t, n2, VRRPBackup, RoleStandby)
	waitFor(t, "snapshot", func() bool { return e2.list() == "[1 2 a 3 4 b]" })
	waitFor(t, "seq numbers", func() bool { return n2.Stats().ChildSAs == 1 })

	e1.put(n1, 5, 6, "c")
	e1.put(n1, 1, 2, "a2")
	e1.del(n1, 3, 4)
	waitFor(t, "updates", func() bool { return e2.list() == "[1 2 a2 5 6 c]" })
	s1.set(SeqEntry{Key: k, Out: true, Seq: Seq{OSeq: 5000}})
	waitFor(t, "seq update", func() bool {
		n2.mu.Lock()
		defer n2.mu.Unlock()
		return n2.store[k].OSeq == 5000
	})

	st1, st2 := n1.Stats(), n2.Stats()
	if !st1.PeerConnected || !st2.PeerConnected || st1.PeerRole != RoleStandby || st2.PeerRole != RoleActive || !st1.PeerSynced {
		t.Fatalf("peer state: %+v / %+v", st1, st2)
	}
	if st2.IKESAs != 2 || st1.IKESAs != 2 || st2.Received == 0 || st1.Sent == 0 || st2.Rejected != 0 {
		t.Fatalf("counters: %+v / %+v", st1, st2)
	}
	if st2.LastSync.IsZero() {
		t.Fatal("no last sync time")
	}

	// The active disappears; VRRP makes node 2 master.
	n1.Close()
	waitFor(t, "link down", func() bool { return !n2.Stats().PeerConnected })
	notify(t, n2, VRRPMaster, RoleActive)
	if !e2.isActive() {
		t.Fatal("engine not active after the takeover")
	}
	if seq, ok := e2.seqs(k); !ok || seq.OSeq != 5000 || e2.shift != 65536 {
		t.Fatalf("takeover given %+v %v shift %d", seq, ok, e2.shift)
	}
	if st := n2.Stats(); st.Transitions != 2 {
		t.Fatalf("transitions %d, want 2 (init→standby→active)", st.Transitions)
	}
}

// TestLinkReconnectResync: the standby goes away; what changes meanwhile
// is not queued; when it comes back it gets a full resync that also drops
// what was deleted while it was away.
func TestLinkReconnectResync(t *testing.T) {
	port := freePort(t)
	e1, e2 := newFakeEngine(), newFakeEngine()
	n1 := start(t, nodeConfig(t, 1, port), e1, newFakeSeqs())
	notify(t, n1, VRRPMaster, RoleActive)
	e1.put(n1, 1, 1, "x")
	e1.put(n1, 2, 2, "y")
	n2 := New(nodeConfig(t, 2, port), e2, nil)
	if err := n2.Start(); err != nil {
		t.Fatal(err)
	}
	notify(t, n2, VRRPBackup, RoleStandby)
	waitFor(t, "first snapshot", func() bool { return e2.list() == "[1 1 x 2 2 y]" })

	carry := n2.Close()
	waitFor(t, "link down on node 1", func() bool { return !n1.Stats().PeerConnected })
	e1.del(n1, 1, 1)
	for i := range uint64(1000) {
		e1.put(n1, 100+i, 1, "z")
	}
	if q := n1.Stats().Queued; q != 0 {
		t.Fatalf("%d bytes queued while the peer is away", q)
	}
	resyncs := n1.Stats().Resync

	c2 := nodeConfig(t, 2, port)
	c2.Carry = carry
	n2 = start(t, c2, e2, nil)
	if n2.Role() != RoleStandby {
		t.Fatalf("the restarted node lost its role: %s", n2.Role())
	}
	waitFor(t, "resync", func() bool { return n2.Stats().IKESAs == 1001 && n1.Stats().Resync > resyncs })
	if e2.list() == "" || len(e2.sas) != 1001 {
		t.Fatalf("standby holds %d SAs", len(e2.sas))
	}
	if _, ok := e2.sas[saID{1, 1}]; ok {
		t.Fatal("the SA deleted while the standby was away survived the resync")
	}
}

// TestLinkWrongSecret: a peer with another secret never gets a message
// through; both sides count the rejection and the link does not stay up.
func TestLinkWrongSecret(t *testing.T) {
	port := freePort(t)
	e1, e2 := newFakeEngine(), newFakeEngine()
	n1 := start(t, nodeConfig(t, 1, port), e1, nil)
	notify(t, n1, VRRPMaster, RoleActive)
	e1.put(n1, 1, 1, "secret-bearing")
	c2 := nodeConfig(t, 2, port)
	c2.Secret = []byte("not the same secret at all!!")
	n2 := start(t, c2, e2, nil)
	notify(t, n2, VRRPBackup, RoleStandby)
	// Each side's first frame fails to open at the other; the side that
	// closes first may make the other see a reset instead.
	waitFor(t, "rejections", func() bool { return n1.Stats().Rejected+n2.Stats().Rejected >= 3 })
	if st := n2.Stats(); st.Received != 0 || st.PeerKnown || st.IKESAs != 0 || e2.list() != "[]" {
		t.Fatalf("something went through: %+v %s", st, e2.list())
	}
}

// rogue connects to node 2 as node 1 (from 127.0.0.1), with the secret.
func rogue(t *testing.T, port uint16) (net.Conn, *session) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: addr1.AsSlice()}}
	var conn net.Conn
	waitFor(t, "node 2 listening", func() bool {
		var err error
		conn, err = d.Dial("tcp", net.JoinHostPort(addr2.String(), strconv.Itoa(int(port))))
		return err == nil
	})
	t.Cleanup(func() { conn.Close() })
	me := &Node{cfg: Config{NodeID: 1, Secret: secret}}
	s, err := me.handshake(conn)
	if err != nil {
		t.Fatal(err)
	}
	return conn, s
}

// TestLinkCorruptedFrame: a frame altered on the link closes the
// connection and counts as rejected.
func TestLinkCorruptedFrame(t *testing.T) {
	port := freePort(t)
	n2 := start(t, nodeConfig(t, 2, port), newFakeEngine(), nil)
	conn, s := rogue(t, port)
	hello, _ := AppendMessage(nil, Hello{NodeID: 1, Role: RoleActive})
	f, _ := s.send.seal(nil, hello)
	if _, err := conn.Write(f); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "hello", func() bool { return n2.Stats().PeerKnown })
	f, _ = s.send.seal(nil, hello)
	f[10] ^= 0x40
	if _, err := conn.Write(f); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("node 2 did not close the link: %v", err)
	}
	waitFor(t, "link down", func() bool { return !n2.Stats().PeerConnected })
	if st := n2.Stats(); st.Rejected != 1 || st.Received != 1 {
		t.Fatalf("rejected %d received %d, want 1 and 1", st.Rejected, st.Received)
	}
}

// TestLinkQueueBound: a standby that stops reading cannot make the active
// hold more than the queue bound: the queue is dropped and a snapshot
// is due.
func TestLinkQueueBound(t *testing.T) {
	port := freePort(t)
	// The rogue standby listens as node 2 and never reads after its
	// hello; it keeps sending hellos so that node 1 keeps the link.
	ln, err := net.Listen("tcp", net.JoinHostPort(addr2.String(), strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		me := &Node{cfg: Config{NodeID: 2, Secret: secret}}
		s, err := me.handshake(conn)
		if err != nil {
			return
		}
		hello, _ := AppendMessage(nil, Hello{NodeID: 2, Role: RoleStandby})
		for {
			f, _ := s.send.seal(nil, hello)
			if _, err := conn.Write(f); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	e1 := newFakeEngine()
	c1 := nodeConfig(t, 1, port)
	c1.QueueBytes = 1 << 20
	n1 := start(t, c1, e1, nil)
	notify(t, n1, VRRPMaster, RoleActive)
	waitFor(t, "link", func() bool { return n1.Stats().PeerKnown })
	big := string(make([]byte, 0))
	for range 1000 {
		big += "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	}
	var max int
	for i := range uint64(2000) { // 2000 × 64 KB: far more than socket buffers and queue
		e1.put(n1, i, 0, big)
		e1.Remove(i, 0) // keep snapshots small: the queue is under test
		st := n1.Stats()
		max = maxInt(max, st.Queued)
		if st.Queued > c1.QueueBytes {
			t.Fatalf("queue holds %d bytes, bound %d", st.Queued, c1.QueueBytes)
		}
	}
	st := n1.Stats()
	if st.Overflows == 0 {
		t.Fatalf("no overflow (max queued %d)", max)
	}
	t.Logf("max queued %d bytes, %d overflows", max, st.Overflows)
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// TestLinkSplitBrain: both nodes master with the link up: node 1 stays
// active, node 2 goes standby, counted; when the link goes, node 2 obeys
// its VRRP group again.
func TestLinkSplitBrain(t *testing.T) {
	port := freePort(t)
	e1, e2 := newFakeEngine(), newFakeEngine()
	var mu sync.Mutex
	var changes []RoleChange
	c2 := nodeConfig(t, 2, port)
	c2.OnRole = func(c RoleChange) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, c)
	}
	n2 := start(t, c2, e2, nil)
	notify(t, n2, VRRPMaster, RoleActive)
	n1 := start(t, nodeConfig(t, 1, port), e1, nil)
	notify(t, n1, VRRPMaster, RoleActive)
	waitFor(t, "node 2 yields", func() bool { return n2.Role() == RoleStandby })
	if n1.Role() != RoleActive || e2.isActive() || n2.Stats().SplitBrains == 0 {
		t.Fatalf("node 1 %s, node 2 engine active %v, split brains %d", n1.Role(), e2.isActive(), n2.Stats().SplitBrains)
	}
	n1.Close()
	waitFor(t, "node 2 back to active", func() bool { return n2.Role() == RoleActive })
	mu.Lock()
	got := fmt.Sprint(changes)
	mu.Unlock()
	want := "[{init active vrrp master} {active standby split brain} {standby active link down}]"
	if got != want {
		t.Fatalf("role changes %s, want %s", got, want)
	}
}

// TestLinkStandbyFirst: the active told STOP says "standby" to its peer
// before its engine has taken its SAs out (a teardown of 10k took 3 s),
// so the peer, told MASTER, takes over at once instead of yielding to a
// node 1 still active by the split-brain rule.
func TestLinkStandbyFirst(t *testing.T) {
	port := freePort(t)
	e1, e2 := newFakeEngine(), newFakeEngine()
	n1 := start(t, nodeConfig(t, 1, port), e1, nil)
	n2 := start(t, nodeConfig(t, 2, port), e2, nil)
	notify(t, n1, VRRPMaster, RoleActive)
	notify(t, n2, VRRPBackup, RoleStandby)
	waitFor(t, "node 2 sees node 1 active", func() bool { s := n2.Stats(); return s.PeerKnown && s.PeerRole == RoleActive })
	release := make(chan struct{})
	e1.mu.Lock()
	e1.passivating = release
	e1.mu.Unlock()
	stopped := make(chan error, 1)
	go func() { _, err := n1.Notify(VRRPStop); stopped <- err }()
	waitFor(t, "node 2 hears node 1 standby during its teardown", func() bool { s := n2.Stats(); return s.PeerKnown && s.PeerRole == RoleStandby })
	notify(t, n2, VRRPMaster, RoleActive)
	if st := n2.Stats(); st.SplitBrains != 0 || !e2.isActive() {
		t.Errorf("node 2: split brains %d, engine active %v; want 0 and true", st.SplitBrains, e2.isActive())
	}
	select {
	case err := <-stopped:
		t.Fatalf("node 1's STOP returned (%v) before its engine's teardown ended", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if n1.Role() != RoleStandby || e1.isActive() {
		t.Errorf("node 1: %s, engine active %v", n1.Role(), e1.isActive())
	}
}

// TestLinkRefusesStranger: node 2 accepts the link only from the remote
// address.
func TestLinkRefusesStranger(t *testing.T) {
	port := freePort(t)
	n2 := start(t, nodeConfig(t, 2, port), newFakeEngine(), nil)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	var conn net.Conn
	waitFor(t, "listening", func() bool {
		var err error
		conn, err = d.Dial("tcp", net.JoinHostPort(addr2.String(), strconv.Itoa(int(port))))
		return err == nil
	})
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatal(err)
	}
	if st := n2.Stats(); st.Rejected != 1 || st.PeerConnected {
		t.Fatalf("%+v", st)
	}
}
