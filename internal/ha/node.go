// Package ha is the high-availability subsystem of secgwd: the sync link
// between the two nodes of an active/standby pair, its protocol, the role
// state machine fed by keepalived's VRRP notifications, and the sequence
// numbers the standby keeps for a takeover without reuse. It knows IKE SAs only as opaque records with their SPIs and ESP
// SAs only as keys with numbers: the daemon glues it to the IKE engine
// (Engine) and the dataplane (SeqSource), so that it imports neither.
package ha

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Defaults and fixed intervals of the link.
const (
	// DefaultPort is ha port's default (secgw-ha.yang).
	DefaultPort = 4510
	// DefaultQueueBytes bounds what waits for the peer; beyond it the
	// queue is dropped and a full snapshot follows (decision 4).
	DefaultQueueBytes = 32 << 20
	// helloInterval: each node sends its role this often (decision 4).
	helloInterval = time.Second
	// deadAfter without any frame closes the link: the peer is gone
	// (three hellos missed, plus slack).
	deadAfter = 3*helloInterval + helloInterval/2
	// handshakeTimeout and writeTimeout bound a stalled peer.
	handshakeTimeout = 5 * time.Second
	writeTimeout     = 10 * time.Second
	// packetCheck is how often sync-period-packets is checked
	// (decision 6).
	packetCheck = time.Second
	// backoffMin and backoffMax pace the dialer's reconnections.
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// Engine is what the HA subsystem drives in the IKE engine; the daemon
// implements it over engine.Engine (HA design, decision 8).
type Engine interface {
	// Snapshot calls fn for every IKE SA, for a full resync.
	Snapshot(fn func(spiI, spiR uint64, rec []byte))
	// Import upserts a passive SA from its record (standby).
	Import(rec []byte) error
	// Remove forgets a passive SA.
	Remove(spiI, spiR uint64)
	// SetRole makes the engine active (takeover: seqs gives the last
	// synced numbers per ESP SA, shift is oseq-shift) or passive.
	SetRole(active bool, seqs func(SeqKey) (Seq, bool), shift uint64) error
}

// SeqSource reads the sequence numbers of the ESP SAs the active node has
// installed (the daemon implements it over the dataplane).
type SeqSource interface {
	Seqs(ctx context.Context) ([]SeqEntry, error)
}

// LeaseStore is the node's HA pools (`ike ha pool`; the daemon implements
// it over its pool manager). Its methods are called without the node's
// lock held; the store may call Node.LeaseMade with its own lock held.
type LeaseStore interface {
	// LeaseSnapshot calls fn for every lease of the HA pools, for a full
	// resync (active).
	LeaseSnapshot(fn func(Lease))
	// ApplyLease records a lease the active made (standby); false when
	// refused (no such HA pool here, or an address it lacks).
	ApplyLease(l Lease) bool
	// RetainLeases drops the leases of the HA pools, not held by an IKE
	// SA of this node, that keep rejects (the active's snapshot did not
	// name them), and returns how many went.
	RetainLeases(keep func(Lease) bool) int
}

// RoleChange reports a change of role, for the log, the state and a
// NETCONF notification.
type RoleChange struct {
	From, To Role
	// Reason is what caused it: "vrrp master", "split brain", ...
	Reason string
}

// Config configures a Node.
type Config struct {
	// NodeID is 1 or 2; the peer has the other. Node 1 dials, node 2
	// accepts, and node 1 stays active in split brain.
	NodeID uint8
	// Local and Remote are the addresses of the sync link; Port its TCP
	// port (DefaultPort if 0).
	Local, Remote netip.Addr
	Port          uint16
	// Interface, if set, binds the link's sockets to that device.
	Interface string
	// Secret is the HA secret (decoded). It is never logged.
	Secret []byte
	// OSeqShift is added to the last synced outbound sequence number at
	// a takeover.
	OSeqShift uint64
	// SyncPeriod is sync-period-time (0: no periodic sync);
	// SyncPackets is sync-period-packets, in thousands of packets (0:
	// none).
	SyncPeriod  time.Duration
	SyncPackets uint64
	// QueueBytes bounds the send queue (DefaultQueueBytes if 0).
	QueueBytes int
	// OnRole, if set, is called after each role change, in order.
	OnRole func(RoleChange)
	// Leases, if set, are the HA pools whose leases are synced.
	Leases LeaseStore
	// Logger receives the subsystem's logs.
	Logger *slog.Logger
	// Carry is the state of the node this one replaces (Close returns
	// it): a reconfiguration keeps the role, the VRRP state and what was
	// synced.
	Carry *Carry
	// Listen and Dial replace TCP (tests); nil: TCP on Local:Port, and
	// from Local to Remote:Port.
	Listen func() (net.Listener, error)
	Dial   func(ctx context.Context) (net.Conn, error)
}

// Carry is what a reconfigured node inherits.
type Carry struct {
	vrrp  VRRPState
	role  Role
	seqs  map[SeqKey]SeqEntry
	sas   map[saID]struct{}
	trans uint64
}

// Role is the role the carried node had.
func (c *Carry) Role() Role { return c.role }

// Seqs looks up the sequence numbers the carried node held.
func (c *Carry) Seqs(k SeqKey) (Seq, bool) {
	e, ok := c.seqs[k]
	return e.Seq, ok
}

type saID struct{ i, r uint64 }

// Stats is the subsystem's state (secgw-ha.yang, state).
type Stats struct {
	Role          Role
	VRRP          VRRPState
	PeerConnected bool
	// PeerRole is the peer's role from its last hello; PeerKnown is
	// false while the link is down or before the first hello.
	PeerRole   Role
	PeerKnown  bool
	PeerSynced bool
	// IKESAs and ChildSAs are the SAs synced: sent by the active,
	// held by the standby. ChildSAs counts outbound ESP SAs whose
	// numbers are synced (one per child SA).
	IKESAs, ChildSAs                 uint32
	Sent, Received, Rejected         uint64
	Transitions, SplitBrains, Resync uint64
	Overflows                        uint64
	// Queued is the bytes waiting in the send queue.
	Queued int
	// LastSync is when the last SA or sequence number update was sent
	// (active) or received (standby); zero if never.
	LastSync time.Time
}

// Node is one node of the pair. Its methods are safe for concurrent use.
type Node struct {
	cfg Config
	eng Engine
	src SeqSource
	log *slog.Logger

	// roleMu serializes role transitions (the engine's SetRole runs
	// under it, never under mu: the engine calls SAUpdate back).
	roleMu sync.Mutex

	mu       sync.Mutex
	vrrp     VRRPState
	role     Role
	sess     *session // nil while the link is down
	peerRole Role
	peerSync bool
	// queue is the active's messages waiting for the peer, queued bytes
	// its size; resync asks the writer for a full snapshot.
	queue  [][]byte
	queued int
	resync bool
	// helloDue asks the writer for a hello now (a role change).
	helloDue bool
	// sas are the IKE SAs synced; seqs the ESP SAs' numbers (held by
	// the standby, last sent by the active).
	sas   map[saID]struct{}
	store map[SeqKey]SeqEntry
	// snap is the standby's bookkeeping of a snapshot being received;
	// synced is set once one was received on the current link.
	snap   *snapSeen
	synced bool
	stats  Stats

	ctx    context.Context
	cancel context.CancelFunc
	ln     net.Listener
	wg     sync.WaitGroup
}

type snapSeen struct {
	sas    map[saID]struct{}
	seqs   map[SeqKey]struct{}
	leases map[Lease]struct{}
}

// New returns a node; Start runs it.
func New(cfg Config, eng Engine, seqs SeqSource) *Node {
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, eng: eng, src: seqs, log: cfg.Logger.With("subsystem", "ha"),
		peerRole: peerUnknown, sas: map[saID]struct{}{}, store: map[SeqKey]SeqEntry{}}
	if c := cfg.Carry; c != nil {
		n.vrrp, n.role, n.stats.Transitions = c.vrrp, c.role, c.trans
		if c.seqs != nil {
			n.store = c.seqs
		}
		if c.sas != nil {
			n.sas = c.sas
		}
	}
	return n
}

// peerID is the peer's node-id.
func (n *Node) peerID() uint8 { return 3 - n.cfg.NodeID }

// Start makes the engine passive unless the node is (still) active,
// binds the listener and starts the link and the sequence number sync.
func (n *Node) Start() error {
	if n.cfg.NodeID != 1 && n.cfg.NodeID != 2 {
		return fmt.Errorf("ha: node-id %d (1 or 2)", n.cfg.NodeID)
	}
	ln, err := n.listen()
	if err != nil {
		return err
	}
	if n.role != RoleActive {
		// Init and standby hold SAs passively (decision 1).
		if err := n.eng.SetRole(false, nil, 0); err != nil {
			_ = ln.Close()
			return fmt.Errorf("ha: engine to passive: %w", err)
		}
	}
	n.ln = ln
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(2)
	go n.acceptLoop()
	go n.seqLoop()
	if n.cfg.NodeID == 1 {
		n.wg.Add(1)
		go n.dialLoop()
	}
	n.log.Info("HA started", "node-id", n.cfg.NodeID, "local", n.cfg.Local.String(), "remote", n.cfg.Remote.String(),
		"port", n.cfg.Port, "role", n.Role().String())
	return nil
}

func (n *Node) listen() (net.Listener, error) {
	if n.cfg.Listen != nil {
		return n.cfg.Listen()
	}
	addr := net.JoinHostPort(n.cfg.Local.String(), strconv.Itoa(int(n.cfg.Port)))
	lc := net.ListenConfig{Control: bindDevice(n.cfg.Interface)}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ha: listen: %w", err)
	}
	return ln, nil
}

// Close stops the link and returns the state a replacing node carries.
// The engine's role is left as it is.
func (n *Node) Close() *Carry {
	if n.cancel != nil {
		n.cancel()
		_ = n.ln.Close()
	}
	n.mu.Lock()
	if n.sess != nil {
		n.sess.close()
	}
	n.mu.Unlock()
	n.wg.Wait()
	n.roleMu.Lock()
	defer n.roleMu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	return &Carry{vrrp: n.vrrp, role: n.role, seqs: n.store, sas: n.sas, trans: n.stats.Transitions}
}

// Role returns the node's role.
func (n *Node) Role() Role {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.role
}

// Stats returns the node's state and counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.stats
	s.Role, s.VRRP = n.role, n.vrrp
	s.PeerConnected = n.sess != nil
	s.PeerKnown = n.sess != nil && n.peerRole != peerUnknown
	if s.PeerKnown {
		s.PeerRole, s.PeerSynced = n.peerRole, n.peerSync
	}
	s.IKESAs = uint32(len(n.sas))
	s.Queued = n.queued
	for _, e := range n.store {
		if e.Out {
			s.ChildSAs++
		}
	}
	return s
}

// Notify applies a VRRP state of our HA group (ha-notify) and returns the
// role it led to, once the engine has taken it.
func (n *Node) Notify(s VRRPState) (Role, error) {
	n.mu.Lock()
	n.vrrp = s
	n.mu.Unlock()
	return n.reevaluate("vrrp " + s.String())
}

// reevaluate runs the role state machine on the current inputs and, if
// the role changes, makes the engine take it.
func (n *Node) reevaluate(cause string) (Role, error) {
	n.roleMu.Lock()
	defer n.roleMu.Unlock()
	n.mu.Lock()
	from := n.role
	to, split := decide(n.vrrp, n.sess != nil, n.peerRole, n.cfg.NodeID)
	if split {
		n.stats.SplitBrains++
		if to != from || from != RoleActive {
			cause = "split brain"
		}
	}
	if to == from {
		n.mu.Unlock()
		if split {
			n.log.Error("HA split brain: both nodes active with the link up; node 1 stays active", "node-id", n.cfg.NodeID, "role", to.String())
		}
		return to, nil
	}
	var seqs map[SeqKey]SeqEntry
	if to == RoleActive {
		// A copy: the link may still update the store while the engine
		// installs.
		seqs = make(map[SeqKey]SeqEntry, len(n.store))
		for k, v := range n.store {
			seqs[k] = v
		}
	}
	n.mu.Unlock()
	if split {
		n.log.Error("HA split brain: both nodes active with the link up; node 1 stays active", "node-id", n.cfg.NodeID, "role", to.String())
	}
	var err error
	if to == RoleActive {
		err = n.eng.SetRole(true, func(k SeqKey) (Seq, bool) {
			e, ok := seqs[k]
			return e.Seq, ok
		}, n.cfg.OSeqShift)
		if err != nil {
			n.log.Error("HA role change: the engine failed", "from", from.String(), "to", to.String(), "err", err)
		}
		n.setRole(to)
	} else {
		// Leaving active: the peer hears "standby" first, then the
		// engine takes its SAs out of the dataplane. The peer, told
		// MASTER by VRRP meanwhile, holds back while this node says it
		// is active (split brain, node 1 stays active): with 10k SAs
		// the teardown took seconds it waited. The engine stops
		// answering at the start of SetRole, within microseconds of the
		// hello being queued, long before the peer has taken over.
		n.setRole(to)
		if from == RoleActive {
			err = n.eng.SetRole(false, nil, 0)
		}
		if err != nil {
			n.log.Error("HA role change: the engine failed", "from", from.String(), "to", to.String(), "err", err)
		}
	}
	n.log.Warn("HA role changed", "from", from.String(), "to", to.String(), "reason", cause)
	if n.cfg.OnRole != nil {
		n.cfg.OnRole(RoleChange{From: from, To: to, Reason: cause})
	}
	if err != nil {
		return to, fmt.Errorf("ha: role %s: %w", to, err)
	}
	return to, nil
}

// setRole makes to the node's role and sends a hello with it at once,
// not at the next tick.
func (n *Node) setRole(to Role) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.role = to
	n.stats.Transitions++
	n.helloDue = true
	switch to {
	case RoleActive:
		// What we hold is now ours to sync: the peer gets a full
		// snapshot (it may have missed what we received last).
		n.resync = true
		n.store = map[SeqKey]SeqEntry{}
	default:
		n.queue, n.queued, n.resync = nil, 0, false
	}
	n.kickLocked()
}

// SAUpdate queues an IKE SA's record for the peer (engine.SyncSink, on
// the active node).
func (n *Node) SAUpdate(spiI, spiR uint64, rec []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.role != RoleActive {
		return
	}
	n.sas[saID{spiI, spiR}] = struct{}{}
	n.enqueueLocked(SAUpdate{SPIi: spiI, SPIr: spiR, Record: rec})
}

// LeaseMade queues a lease of an HA pool for the peer (the pool manager's
// hook, on the active node; it may hold the manager's lock: this takes
// only the node's).
func (n *Node) LeaseMade(l Lease) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.role != RoleActive {
		return
	}
	n.enqueueLocked(Leases{Leases: []Lease{l}})
}

// SADelete queues an IKE SA's deletion for the peer (engine.SyncSink).
func (n *Node) SADelete(spiI, spiR uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.role != RoleActive {
		return
	}
	delete(n.sas, saID{spiI, spiR})
	n.enqueueLocked(SADelete{SPIi: spiI, SPIr: spiR})
}

// enqueueLocked appends m to the send queue. With the link down, or a
// snapshot due, it is dropped: the next snapshot carries it. Beyond the
// bound the queue is dropped and a snapshot is due (decision 4).
func (n *Node) enqueueLocked(m Message) bool {
	if n.sess == nil || n.resync {
		return false
	}
	b, err := AppendMessage(nil, m)
	if err != nil {
		n.log.Error("HA message not sent", "err", err)
		return false
	}
	if n.queued+len(b) > n.cfg.QueueBytes {
		n.stats.Overflows++
		n.log.Warn("HA send queue full: dropped, a full resync follows", "bytes", n.queued)
		n.queue, n.queued, n.resync = nil, 0, true
		n.kickLocked()
		return false
	}
	n.queue = append(n.queue, b)
	n.queued += len(b)
	n.stats.LastSync = time.Now()
	n.kickLocked()
	return true
}

func (n *Node) kickLocked() {
	if n.sess != nil {
		select {
		case n.sess.kick <- struct{}{}:
		default:
		}
	}
}
