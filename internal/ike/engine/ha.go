package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
)

// High availability, the engine's side: an active/standby pair where the active's IKE SAs, with their
// keys, message IDs and child SAs, are copied to the standby as records
// (ha_record.go) that the standby holds passive: not in its SA table,
// not in its dataplane, no timer running, nothing sent or answered. At a
// takeover the standby installs them and carries on where the active
// left off, without a new IKE_SA_INIT.
//
// Roles. An engine without HA (Options.HAStandby false) is active from
// the start and stays so: nothing here changes what it does, but the
// SyncSink calls when one is set. An engine with HA starts standby (the
// design's "init" role: until keepalived has reported its VRRP group,
// the node neither sends, answers nor initiates) and SetRole moves it.
// While standby the engine
//
//   - drops every received datagram, counted (HAStats.Dropped): it
//     answers nothing, not even IKE_SA_INIT;
//   - initiates nothing: Initiate*, InitiateChild and Acquire return
//     ErrStandby, start-action start is not applied at a commit (it is
//     at the takeover), and the queued initiations of the pacer (close-
//     and dpd-action restart, start-action) are dropped at their turn;
//   - holds the records it is given (SyncImport, SyncRemove) as passive
//     SAs that Snapshot lists with the state "passive".
//
// Sync. On the active, every change of an established IKE SA that the
// standby needs is reported to the SyncSink: IKE_AUTH completed (either
// role), every completed exchange (the message IDs move: CREATE_CHILD_SA
// creating or rekeying a child SA, INFORMATIONAL deleting one, a DPD,
// MOBIKE's UPDATE_SA_ADDRESSES), a child SA installed or removed (its
// lifetime ran out), and an IKE SA rekey (RFC 7296 §2.18: the new IKE SA
// gets its own record, the old one an SADelete as soon as its child SAs
// moved). SADelete reports an IKE SA that went away. A change is marked
// on the SA (syncLater) and the record built once, when the lock of the
// SA's worker is about to be released (worker.unlock): one record per SA
// per lock section, however many changes it saw.

// SyncSink receives the engine's SA changes on the active node.
//
// Its methods are called with the lock of the IKE SA's worker held, so
// that the calls for one IKE SA come in the order of its changes: they
// must be cheap and must not block (the sink queues: internal/ha) and
// must not call the Engine. rec is the sink's own (a fresh slice); it
// holds the SA's keys, a secret.
type SyncSink interface {
	// SAUpdate reports an IKE SA created or changed (child SAs, message
	// IDs, rekey): rec replaces what the standby holds for spiI, spiR.
	SAUpdate(spiI, spiR uint64, rec []byte)
	// SADelete reports that the IKE SA is gone.
	SADelete(spiI, spiR uint64)
}

// SeqKey names one ESP SA as the dataplane names it: its destination
// address and SPI (RFC 4301 §4.1). The outbound SA of a child SA is
// {peer's address, outbound SPI}, the inbound one {our address, inbound
// SPI}.
type SeqKey struct {
	Dst netip.Addr
	SPI uint32
}

// Seq is the last synced state of an ESP SA's sequence numbers: OSeq the
// last outbound number used, ISeq the highest inbound number seen.
type Seq struct{ OSeq, ISeq uint64 }

// VIPClaimer is implemented by a VIPs (Options.VIPs) that can take over
// the lease of a virtual IP the HA peer gave (the IKE service, over its
// pools): at a takeover Claim makes the pool count the IKE SA as a
// holder of l (identity l.Identity holds l.Addr of pool l.Pool), so that
// the address is not handed to another peer; false when the pool cannot
// (no such pool or address, or another identity holds it). It is called
// with a worker's lock held and must not call the Engine.
type VIPClaimer interface {
	Claim(l VIPLease) bool
}

// ErrStandby is returned for an initiation asked of an engine in the HA
// standby (or init) role: the active node of the pair does that.
var ErrStandby = errors.New("engine: this node is the HA standby: it initiates nothing (the active node does)")

// ErrActive is returned by SyncImport on the active node: it holds the
// SAs, it does not take copies.
var ErrActive = errors.New("engine: this node is the HA active: synced SA ignored")

// HAStats are the counters of the engine's HA side.
type HAStats struct {
	// Active is the role.
	Active bool
	// Passive is the number of passive IKE SAs held, UnknownVPN those
	// of them whose VPN this node does not have (dropped at a takeover).
	Passive, UnknownVPN int
	// Dropped counts the datagrams dropped while standby.
	Dropped uint64
	// Imported counts the records taken by SyncImport, Rejected those
	// that did not decode.
	Imported, Rejected uint64
	// TakenOver counts the IKE SAs installed at takeovers, NotTakenOver
	// the passive ones dropped then (unknown VPN, SPI in use, a child
	// SA the dataplane refused).
	TakenOver, NotTakenOver uint64
}

// haState is the engine's HA side.
type haState struct {
	// standby is the role: false for active (the default).
	standby atomic.Bool
	sink    atomic.Pointer[sinkBox]
	// roleMu orders SetRole calls.
	roleMu sync.Mutex
	// importMu is held by SetRole(false) while it turns the SAs into
	// passive records, and by SyncImport and SyncRemove: the new active
	// (told at once that this node is standby) may sync an SA it already
	// changed, or remove one, before passivate stored this node's older
	// record of it; the peer's messages wait and then win.
	importMu sync.Mutex
	// mu guards passive and closed, a leaf lock.
	mu sync.Mutex
	// passive are the records held while standby, by (SPIi, SPIr).
	passive map[[2]uint64]*saRecord
	// closed: a takeover took the records; SyncImport takes no more
	// until the engine is standby again.
	closed bool
	// taking is set while a takeover installs the passive SAs: the
	// datagrams that arrive meanwhile are held (up to heldMax bytes)
	// and handled once the SAs are in, rather than dropped: a peer's
	// retransmission that came during the takeover is answered then,
	// not at its next retransmission (seconds later: RFC 7296 §2.1).
	taking    atomic.Bool
	held      []Datagram
	heldBytes int

	dropped, imported, rejected, takenOver, notTakenOver atomic.Uint64
}

type sinkBox struct{ s SyncSink }

// haSA is the HA state of one IKE SA.
type haSA struct {
	// haQueued: the SA is on its worker's haDirty list; haSynced: the
	// sink was given a record of it (an SADelete is due when it goes).
	haQueued, haSynced bool
	// haResync: taken over, no request of the peer seen yet: the next
	// one is accepted at any message ID from the synced expected one
	// (handleRequest). haFirstReq: taken over, no response to our
	// requests processed yet: a response of another exchange to our
	// request is the peer's cached answer to the old active's request
	// with that ID (handleResponse); ha_msgid.go says why.
	haResync, haFirstReq bool
}

// SetSyncSink sets the sink of the SA changes (nil: none). The SAs
// established before are not reported: SyncSnapshot gives them.
func (e *Engine) SetSyncSink(s SyncSink) {
	if s == nil {
		e.ha.sink.Store(nil)
		return
	}
	e.ha.sink.Store(&sinkBox{s})
}

func (e *Engine) syncSink() SyncSink {
	if b := e.ha.sink.Load(); b != nil {
		return b.s
	}
	return nil
}

// Role reports whether the engine is active.
func (e *Engine) Role() (active bool) { return !e.ha.standby.Load() }

// standby reports whether the engine is in the standby (or init) role.
func (e *Engine) standby() bool { return e.ha.standby.Load() }

// heldMax bounds the bytes of the datagrams held during a takeover (10k
// liveness checks are about 1 MB).
const heldMax = 16 << 20

// holdDatagram keeps d, received during a takeover, for replayHeld; false
// when no takeover is under way or the bound is reached.
func (e *Engine) holdDatagram(d Datagram) bool {
	if !e.ha.taking.Load() {
		return false
	}
	e.ha.mu.Lock()
	defer e.ha.mu.Unlock()
	if !e.ha.taking.Load() || e.ha.heldBytes+len(d.Data) > heldMax {
		return false
	}
	d.Data = append([]byte(nil), d.Data...) // the caller may reuse its buffer
	e.ha.held = append(e.ha.held, d)
	e.ha.heldBytes += len(d.Data)
	return true
}

// takeHeld ends the holding of datagrams and returns those held.
func (e *Engine) takeHeld() []Datagram {
	e.ha.mu.Lock()
	defer e.ha.mu.Unlock()
	e.ha.taking.Store(false)
	held := e.ha.held
	e.ha.held, e.ha.heldBytes = nil, 0
	return held
}

// HAStats returns the counters of the HA side.
func (e *Engine) HAStats() HAStats {
	s := HAStats{Active: e.Role(), Dropped: e.ha.dropped.Load(), Imported: e.ha.imported.Load(),
		Rejected: e.ha.rejected.Load(), TakenOver: e.ha.takenOver.Load(), NotTakenOver: e.ha.notTakenOver.Load()}
	cfg := e.config()
	e.ha.mu.Lock()
	s.Passive = len(e.ha.passive)
	for _, r := range e.ha.passive {
		if cfg.VPN(r.vpn) == nil {
			s.UnknownVPN++
		}
	}
	e.ha.mu.Unlock()
	return s
}

// SyncSnapshot calls fn with the record of every established IKE SA, for
// a full resync of the standby; nothing on a standby. fn is called with
// the lock of the SA's worker held, as the SyncSink's methods.
func (e *Engine) SyncSnapshot(fn func(spiI, spiR uint64, rec []byte)) {
	if e.standby() {
		return
	}
	e.eachSA(func(sa *ikeSA) bool {
		if sa.syncable() {
			sa.haSynced = true
			fn(sa.spii, sa.spir, e.recordOf(sa).marshal())
		}
		return true
	})
}

// SyncImport stores a record of the active as a passive IKE SA (standby
// only), replacing the one with the same SPIs. A record whose VPN this
// node does not have is kept (the operator may add the VPN before a
// takeover), counted (HAStats.UnknownVPN) and logged.
func (e *Engine) SyncImport(rec []byte) error {
	if !e.standby() {
		return ErrActive
	}
	r, err := parseRecord(rec)
	if err != nil {
		e.ha.rejected.Add(1)
		return err
	}
	e.seeUIDs(r)
	key := [2]uint64{r.spii, r.spir}
	e.ha.importMu.Lock()
	defer e.ha.importMu.Unlock()
	e.ha.mu.Lock()
	if e.ha.closed {
		e.ha.mu.Unlock()
		r.clearKeys()
		return ErrActive
	}
	if e.ha.passive == nil {
		e.ha.passive = map[[2]uint64]*saRecord{}
	}
	old := e.ha.passive[key]
	e.ha.passive[key] = r
	e.ha.mu.Unlock()
	if old != nil {
		old.clearKeys()
	}
	e.ha.imported.Add(1)
	if old == nil && e.config().VPN(r.vpn) == nil {
		e.limit.Log(context.Background(), e.log, slog.LevelWarn, "HA: synced IKE SA of a VPN this node does not have: kept, dropped at a takeover unless the VPN is added",
			"vpn", r.vpn, "spi-i", spiString(r.spii), "spi-r", spiString(r.spir))
	}
	return nil
}

// seeUIDs makes the engine's unique-ids of new SAs follow those of the
// record: the active's numbering carries over, so that both nodes name
// an SA alike and those the node creates after a takeover come after the
// ones it took over. A record without them (0) gets new ones.
func (e *Engine) seeUIDs(r *saRecord) {
	see := func(u *uint32) {
		if *u == 0 {
			*u = e.nextUID()
			return
		}
		for {
			cur := e.uids.Load()
			if int32(*u-cur) <= 0 || e.uids.CompareAndSwap(cur, *u) {
				return
			}
		}
	}
	see(&r.uid)
	for i := range r.children {
		see(&r.children[i].uid)
	}
}

// SyncRemove forgets the passive IKE SA with these SPIs (the active
// deleted it); nothing when there is none.
func (e *Engine) SyncRemove(spiI, spiR uint64) {
	key := [2]uint64{spiI, spiR}
	e.ha.importMu.Lock()
	defer e.ha.importMu.Unlock()
	e.ha.mu.Lock()
	r := e.ha.passive[key]
	delete(e.ha.passive, key)
	e.ha.mu.Unlock()
	if r != nil {
		r.clearKeys()
	}
}

// syncable reports whether the SA is one the standby should hold: an
// established IKE SA not replaced by a rekey and not flushed.
func (sa *ikeSA) syncable() bool {
	return sa.state == stateEstablished && sa.vpn != nil && sa.successor == nil && !sa.flushed && !sa.redirected
}

// syncLater marks the SA as changed for the SyncSink; w.mu is held. The
// record is built when the worker is unlocked (flushSync).
func (sa *ikeSA) syncLater() {
	if sa.haQueued || sa.w == nil || sa.w.e.ha.sink.Load() == nil {
		return
	}
	sa.haQueued = true
	sa.w.haDirty = append(sa.w.haDirty, sa)
}

// flushSync reports the SAs the lock section changed to the SyncSink:
// a record of each that is syncable, an SADelete for each that was synced
// and no longer is. w.mu is held; nothing is reported while standby.
func (w *worker) flushSync() {
	dirty := w.haDirty
	w.haDirty = nil
	sink := w.e.syncSink()
	active := !w.e.standby()
	for _, sa := range dirty {
		sa.haQueued = false
		switch {
		case sink == nil || !active:
		case sa.syncable():
			sa.haSynced = true
			sink.SAUpdate(sa.spii, sa.spir, w.e.recordOf(sa).marshal())
		case sa.haSynced:
			sa.haSynced = false
			sink.SADelete(sa.spii, sa.spir)
		}
	}
	clear(dirty)
}
