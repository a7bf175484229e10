package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"secgw/generated"
	"secgw/internal/dataplane"
	"secgw/internal/datastore"
	"secgw/internal/ha"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ikesvc"
	"secgw/internal/netconf"
	"secgw/internal/pool"
	"secgw/internal/rpcerr"
)

// High availability: the daemon glues the HA subsystem
// (internal/ha: the sync link, the role state machine) to the IKE engine
// and the dataplane, which ha imports neither of:
//
//   - the engine's SyncSink is the ha.Node: on the active, every SA change
//     is queued for the peer;
//   - on the standby, the records received are the engine's passive SAs
//     (SyncImport, SyncRemove); a (re)connection brings a SyncSnapshot;
//   - a role change (ha-notify, split brain) is engine.SetRole, with the
//     sequence numbers the standby holds and oseq-shift;
//   - the active's sequence numbers come from the dataplane (haSeqs);
//   - the leases of the HA pools (`ike ha pool`): each one the active's
//     pool manager makes goes to the peer (onLease), and the standby's
//     manager records them (haLeases).
//
// Configuration: `vrf main vrrp group G notify-ha-group H` and `vrf main
// ike ha listen-ha-group H ...`; IKE HA in another vrf is refused at
// commit (internal/support: IKE runs in vrf main only).

// haSub is the HA subsystem of the daemon, subscribed to commits.
type haSub struct {
	d   *Daemon
	log *slog.Logger

	// mu guards what follows; it is held across a reconfiguration, not
	// across a role change (ha.Node orders those).
	mu sync.Mutex
	// cur is the applied configuration, prev the one before the Apply in
	// flight (for Abort), pending what Prepare resolved.
	cur, prev, pending haConfig
	applied            bool
	node               *ha.Node
	// carry is what a node that could not start inherited, for the next
	// one; shift the oseq-shift of the last node started.
	carry *ha.Carry
	shift uint64
	// notify sends a NETCONF notification (set once the server exists).
	// Not under mu: a role change reports while a reconfiguration, which
	// holds mu, waits for the node to stop.
	notify atomic.Pointer[func(name string, v any)]
	// sink is the running node, for the pool manager's lease hook, which
	// cannot take mu (it runs under the manager's lock, which a
	// takeover's Claim takes under the engine's SetRole, under the
	// node's role lock).
	sink atomic.Pointer[ha.Node]
}

// haConfig is the resolved HA configuration of vrf main.
type haConfig struct {
	// groups maps the VRRP groups to the HA group they notify ("" if
	// none).
	groups map[string]string
	// ike is nil without `ike ha`.
	ike *haIKE
}

// haIKE is `vrf main ike ha`.
type haIKE struct {
	listen  string
	iface   string
	nodeID  uint8
	local   netip.Addr
	remote  netip.Addr
	port    uint16
	secret  []byte
	shift   uint64
	period  time.Duration
	packets uint64
}

// resolveHA reads the HA configuration of vrf main.
func resolveHA(running *generated.Device) (haConfig, error) {
	c := haConfig{groups: map[string]string{}}
	v := running.GetVrf(ikesvc.VRF)
	if v == nil {
		return c, nil
	}
	if vr := v.GetVrrp(); vr != nil {
		for name, g := range vr.Group {
			c.groups[name] = g.GetNotifyHaGroup()
		}
	}
	h := v.GetIke().GetHa()
	if h == nil {
		return c, nil
	}
	i := &haIKE{listen: h.GetListenHaGroup(), iface: h.GetInterface(), nodeID: h.GetNodeId(), port: h.GetPort()}
	var err error
	if i.local, err = netip.ParseAddr(h.GetLocalAddress()); err != nil {
		return c, fmt.Errorf("ha: local-address: %w", err)
	}
	if i.remote, err = netip.ParseAddr(h.GetRemoteAddress()); err != nil {
		return c, fmt.Errorf("ha: remote-address: %w", err)
	}
	if i.secret, err = config.DecodeSecret("ha secret", h.GetSecret()); err != nil {
		return c, err
	}
	if len(i.secret) < 16 {
		return c, fmt.Errorf("ha: the secret has %d bytes: at least 16 (128 bits)", len(i.secret))
	}
	s := h.GetSeqnumSync()
	i.shift = uint64(s.GetOseqShift())
	if s == nil || s.OseqShift == nil {
		i.shift = 65536 // the model's default
	}
	period := "10s"
	if s != nil && s.SyncPeriodTime != nil {
		period = *s.SyncPeriodTime
	}
	if i.period, err = config.ParseDuration(period); err != nil {
		return c, fmt.Errorf("ha: sync-period-time: %w", err)
	}
	i.packets = uint64(s.GetSyncPeriodPackets())
	if i.packets*1000 >= i.shift && i.packets != 0 {
		return c, fmt.Errorf("ha: sync-period-packets %d thousand is not below oseq-shift %d: a takeover could reuse sequence numbers", i.packets, i.shift)
	}
	c.ike = i
	return c, nil
}

// newHASub builds the HA subsystem (nothing runs until start).
func newHASub(d *Daemon) *haSub {
	return &haSub{d: d, log: d.mainLogger().With("subsystem", "ha")}
}

// engine is the IKE engine.
func (h *haSub) engine() *engine.Engine { return h.d.ike.Engine() }

// passiveAtStart puts the engine in the HA init role before IKE applies
// the running configuration: a node with `ike ha` sends, answers and
// initiates nothing until keepalived has told it its role (decision 1).
func (h *haSub) passiveAtStart(running *generated.Device) {
	if running.GetVrf(ikesvc.VRF).GetIke().GetHa() != nil {
		if err := h.engine().SetRole(false, nil, 0); err != nil {
			h.log.Error("HA: engine not passive at start", "err", err)
		}
	}
}

// start applies the running configuration at daemon start.
func (h *haSub) start(running *generated.Device) error {
	c, err := resolveHA(running)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.apply(c)
}

// Name implements datastore.Subscriber.
func (h *haSub) Name() string { return "ha" }

// Prepare resolves the new configuration; an error refuses the commit.
func (h *haSub) Prepare(tx *datastore.Tx) error {
	c, err := resolveHA(tx.New)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending, h.applied = c, false
	return nil
}

// Apply starts, restarts or stops the node as the configuration changed.
func (h *haSub) Apply(*datastore.Tx) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.prev = h.cur
	h.applied = true
	return h.apply(h.pending)
}

// Abort restores the configuration before an Apply that ran.
func (h *haSub) Abort(*datastore.Tx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.applied {
		if err := h.apply(h.prev); err != nil {
			h.log.Error("HA: restoring the configuration after an aborted commit", "err", err)
		}
		h.applied = false
	}
}

// apply makes c current; mu is held.
func (h *haSub) apply(c haConfig) error {
	old := h.cur
	h.cur = c
	if reflect.DeepEqual(old.ike, c.ike) && (h.node != nil) == (c.ike != nil) {
		return nil
	}
	// What the node being replaced held, or one that could not start
	// left: a reconfiguration keeps the role and what was synced.
	carry := h.carry
	h.carry = nil
	if h.node != nil {
		h.engine().SetSyncSink(nil)
		h.sink.Store(nil)
		carry = h.node.Close()
		h.node = nil
	}
	if c.ike == nil {
		if !h.engine().Role() {
			// Without HA the engine is always active (today's
			// behaviour): it takes over what it holds.
			h.log.Warn("HA unconfigured: the engine takes over the SAs it holds")
			var seqs func(ha.SeqKey) (ha.Seq, bool)
			if carry != nil {
				seqs = carry.Seqs
			}
			if err := h.engine().SetRole(true, engineSeqs(seqs), h.shift); err != nil {
				return fmt.Errorf("ha: %w", err)
			}
		}
		return nil
	}
	n := ha.New(ha.Config{
		NodeID: c.ike.nodeID, Local: c.ike.local, Remote: c.ike.remote, Port: c.ike.port,
		Interface: c.ike.iface, Secret: c.ike.secret, OSeqShift: c.ike.shift, SyncPeriod: c.ike.period, SyncPackets: c.ike.packets,
		OnRole: h.onRole, Logger: h.d.mainLogger(), Carry: carry, Leases: h.leaseStore(),
	}, haEngine{e: h.engine(), limit: h.d.cfg.MemoryLimit, routes: h.d.routes}, haSeqs{h.d.dataplane})
	if err := n.Start(); err != nil {
		h.carry = carry
		return err
	}
	h.engine().SetSyncSink(n)
	h.sink.Store(n)
	h.node, h.shift = n, c.ike.shift
	return nil
}

// close stops the node (daemon shutdown: the engine keeps its role).
func (h *haSub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.node != nil {
		h.engine().SetSyncSink(nil)
		h.sink.Store(nil)
		h.node.Close()
		h.node = nil
	}
}

// setNotify sets how role changes become NETCONF notifications.
func (h *haSub) setNotify(fn func(name string, v any)) { h.notify.Store(&fn) }

// haRoleChange is secgw-ha's ha-role-change notification.
type haRoleChange struct {
	VRF      string `yang:"vrf"`
	Role     string `yang:"role"`
	Previous string `yang:"previous-role"`
	Reason   string `yang:"reason"`
}

// onRole logs a role change at level 0 and notifies it.
func (h *haSub) onRole(c ha.RoleChange) {
	h.log.Info("HA role change", "from", c.From.String(), "to", c.To.String(), "reason", c.Reason)
	if notify := h.notify.Load(); notify != nil {
		(*notify)("ha-role-change", haRoleChange{VRF: ikesvc.VRF, Role: c.To.String(), Previous: c.From.String(), Reason: c.Reason})
	}
}

// HANotifyInput is the input of secgw-ha's ha-notify.
type HANotifyInput struct {
	VRF   string `yang:"vrf"`
	Group string `yang:"group"`
	State string `yang:"state"`
}

// HANotify carries out ha-notify: the VRRP group's HA group, if it is the
// listen-ha-group of IKE HA, sets this node's role (master: active;
// backup, fault, stop: standby). It returns once the engine has taken the
// role. A group notifying another HA group, or none, changes nothing.
func (h *haSub) HANotify(_ context.Context, in HANotifyInput) (struct{}, error) {
	vrf := in.VRF
	if vrf == "" {
		vrf = ikesvc.VRF
	}
	state, err := ha.ParseVRRPState(in.State)
	if err != nil {
		return struct{}{}, &rpcerr.Error{Type: rpcerr.TypeApplication, Tag: rpcerr.TagInvalidValue,
			Message: err.Error(), Info: map[string]string{"bad-element": "state"}}
	}
	h.mu.Lock()
	group, ok := h.cur.groups[in.Group]
	if vrf != ikesvc.VRF {
		ok = false
	}
	node, ike := h.node, h.cur.ike
	h.mu.Unlock()
	if !ok {
		return struct{}{}, &rpcerr.Error{Type: rpcerr.TypeApplication, Tag: rpcerr.TagInvalidValue,
			Message: fmt.Sprintf("ha: vrf %s has no vrrp group %q", vrf, in.Group),
			Info:    map[string]string{"bad-element": "group"}}
	}
	if ike == nil || group != ike.listen || node == nil {
		h.log.Info("ha-notify for a VRRP group bound to no IKE HA: nothing to do", "group", in.Group, "state", state.String(), "ha-group", group)
		return struct{}{}, nil
	}
	h.log.Info("ha-notify", "group", in.Group, "state", state.String())
	if _, err := node.Notify(state); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, nil
}

// state fills `ike ha state`, or leaves ike.Ha nil without IKE HA.
func (h *haSub) state(ike *generated.SecgwVrf_Vrf_Ike) {
	h.mu.Lock()
	node := h.node
	h.mu.Unlock()
	if node == nil {
		return
	}
	s := node.Stats()
	st := &generated.SecgwVrf_Vrf_Ike_Ha_State{
		Role:             haRoleEnum(s.Role),
		PeerConnected:    &s.PeerConnected,
		IkeSaSynced:      &s.IKESAs,
		ChildSaSynced:    &s.ChildSAs,
		MessagesSent:     &s.Sent,
		MessagesReceived: &s.Received,
		MessagesRejected: &s.Rejected,
		Transitions:      &s.Transitions,
		SplitBrains:      &s.SplitBrains,
		Resyncs:          &s.Resync,
	}
	if s.PeerKnown {
		st.PeerRole = haRoleEnum(s.PeerRole)
	}
	if !s.LastSync.IsZero() {
		t := s.LastSync.UTC().Format(time.RFC3339)
		st.LastSync = &t
	}
	ike.Ha = &generated.SecgwVrf_Vrf_Ike_Ha{State: st}
}

func haRoleEnum(r ha.Role) generated.E_SecgwHa_HaRole {
	switch r {
	case ha.RoleActive:
		return generated.SecgwHa_HaRole_active
	case ha.RoleStandby:
		return generated.SecgwHa_HaRole_standby
	}
	return generated.SecgwHa_HaRole_init
}

// haEngine is the engine as ha.Engine sees it; limit is the daemon's
// MemoryLimit, lifted for a role change (burstMemory).
type haEngine struct {
	e      *engine.Engine
	limit  int64
	routes *routing // nil without
}

func (g haEngine) Snapshot(fn func(spiI, spiR uint64, rec []byte)) { g.e.SyncSnapshot(fn) }
func (g haEngine) Import(rec []byte) error                         { return g.e.SyncImport(rec) }
func (g haEngine) Remove(spiI, spiR uint64)                        { g.e.SyncRemove(spiI, spiR) }

func (g haEngine) SetRole(active bool, seqs func(ha.SeqKey) (ha.Seq, bool), shift uint64) error {
	defer burstMemory(g.limit)()
	if active && g.routes != nil {
		// The routes of the child SAs taken over follow once the
		// engine answers: liveness checks first (routing.hold).
		defer g.routes.hold()()
	}
	return g.e.SetRole(active, engineSeqs(seqs), shift)
}

// engineSeqs converts ha's lookup of synced numbers to the engine's.
func engineSeqs(seqs func(ha.SeqKey) (ha.Seq, bool)) func(engine.SeqKey) (engine.Seq, bool) {
	if seqs == nil {
		return nil
	}
	return func(k engine.SeqKey) (engine.Seq, bool) {
		s, ok := seqs(ha.SeqKey{Dst: k.Dst, SPI: k.SPI})
		return engine.Seq{OSeq: s.OSeq, ISeq: s.ISeq}, ok
	}
}

// bindNetconf makes role changes NETCONF notifications.
func (h *haSub) bindNetconf(srv *netconf.Server) {
	h.setNotify(func(name string, v any) {
		if err := srv.Notify(name, v); err != nil {
			h.log.Error("ha-role-change notification", "err", err)
		}
	})
}

// haSeqs is the active's SeqSource over the dataplane (decision 6).
type haSeqs struct{ dp dataplane.Dataplane }

// Seqs reads the sequence numbers of every SA the dataplane owns in one
// bulk read (Dataplane.SeqStates): the last outbound number of the
// outbound SAs, the highest inbound one accepted of the inbound SAs.
func (s haSeqs) Seqs(ctx context.Context) ([]ha.SeqEntry, error) {
	states, err := s.dp.SeqStates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ha.SeqEntry, 0, len(states))
	for _, st := range states {
		out = append(out, ha.SeqEntry{Key: ha.SeqKey{Dst: st.Key.Dst, SPI: st.Key.SPI}, Out: st.Dir == dataplane.Out,
			Seq: ha.Seq{OSeq: st.OSeq, ISeq: st.ISeq}})
	}
	return out, nil
}

// leaseStore is the HA pools for the node, nil without a lease store.
func (h *haSub) leaseStore() ha.LeaseStore {
	if h.d.pools == nil {
		return nil
	}
	return haLeases{h.d.pools}
}

// onLease is the pool manager's hook (Options.OnLease, called with its
// lock held): a lease made in an HA pool goes to the peer if this node is
// active (ha.Node.LeaseMade drops it otherwise). A lease lost needs no
// message (internal/pool/ha.go says why).
func (h *haSub) onLease(ev pool.Event) {
	if !ev.Leased || !ev.HA {
		return
	}
	if n := h.sink.Load(); n != nil {
		n.LeaseMade(ha.Lease{Pool: ev.Pool, Identity: ev.Identity, Addr: ev.Addr})
	}
}

// haLeases is ha.LeaseStore over the pool manager: the HA pools' leases
// for a snapshot (active), recorded as the peer's (standby), and those a
// snapshot did not name dropped.
type haLeases struct{ m *pool.Manager }

func (s haLeases) LeaseSnapshot(fn func(ha.Lease)) {
	s.m.HALeases(func(e pool.Event) { fn(ha.Lease{Pool: e.Pool, Identity: e.Identity, Addr: e.Addr}) })
}

func (s haLeases) ApplyLease(l ha.Lease) bool { return s.m.InjectHA(l.Pool, l.Identity, l.Addr) }

func (s haLeases) RetainLeases(keep func(ha.Lease) bool) int {
	return s.m.RetainHA(func(p, id string, a netip.Addr) bool { return keep(ha.Lease{Pool: p, Identity: id, Addr: a}) })
}
