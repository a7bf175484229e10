package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"secgw/internal/ike/config"
)

// ivMargin is how far a takeover moves the IV counter of an IKE SA's
// AEAD (RFC 5282 §3, RFC 7634 §2: an IV never repeats under one key).
// The record carries the counter as of the last completed exchange; the
// old active may have sent a few more messages since (a request whose
// exchange did not complete), never 2^32.
const ivMargin = 1 << 32

// SetRole sets the HA role.
//
// active false (BACKUP, FAULT, STOP; split brain lost): the engine goes
// standby. Every established IKE SA becomes a passive record, as the
// standby got it from the sync, and its child SAs leave the dataplane
// (Dataplane.DeleteChild), its virtual IPs go back (leases to the pools,
// received addresses off the host: VIPs); IKE SAs being set up are
// dropped; no timer of them runs; nothing is sent to the peers (the
// other node now holds the SAs and syncs them here). No SA event is
// reported: the SAs live on, at the other node.
//
// active true (MASTER: takeover): every passive record whose VPN this
// node has becomes an IKE SA of the engine again: its child SAs are
// installed in the dataplane with ChildSA.OSeq = the last synced
// outbound sequence number + shift (shift when none was synced) and
// ChildSA.ISeq = the highest synced inbound one (the standby installs
// nothing before),
// seqs naming them by ESP SA: {peer's address, outbound SPI} for OSeq,
// {our address, inbound SPI} for ISeq (either may be missing); its
// timers restart from the synced deadlines (a deadline passed fires at
// once: an IKE SA or child SA whose rekey was under way at the old
// active is rekeyed again); its message IDs go on from the synced ones
// with the safe margin of decision 3 (handleRequest, handleResponse);
// its AEAD IV counter moves by ivMargin; the last response the old
// active sent is resent to a retransmitted request; its virtual IPs are
// claimed and installed (restoreVIPs). Records of VPNs this node does
// not have, whose SPIs are in use, are dropped, logged and counted
// (HAStats.NotTakenOver). Then the VPNs with start-action start that have
// no IKE SA are started, and the engine answers again.
//
// Both directions are O(SAs): one lock section per worker, and the child
// SAs move in batches (BatchDataplane: one per worker at a takeover, one
// for all going standby). The datagrams that arrive during a takeover are
// held and handled once the SAs are in (holdDatagram), before SetRole
// returns. SetRole calls are serialised; one with the current role
// changes nothing.
func (e *Engine) SetRole(active bool, seqs func(SeqKey) (Seq, bool), shift uint64) error {
	e.ha.roleMu.Lock()
	defer e.ha.roleMu.Unlock()
	if active == e.Role() {
		return nil
	}
	if !active {
		e.ha.mu.Lock()
		e.ha.closed = false
		e.ha.mu.Unlock()
		e.ha.standby.Store(true)
		e.ha.importMu.Lock()
		n := e.passivate()
		e.ha.importMu.Unlock()
		e.log.Info("HA: standby: IKE SAs kept passive, their child SAs removed from the dataplane", "ike-sas", n)
		return nil
	}
	if seqs == nil {
		seqs = func(SeqKey) (Seq, bool) { return Seq{}, false }
	}
	start := time.Now()
	e.ha.taking.Store(true)
	n, dropped := e.takeover(seqs, shift)
	e.ha.standby.Store(false)
	// What arrived during the takeover, first: mostly the peers'
	// retransmitted requests and liveness checks.
	held := e.takeHeld()
	for _, d := range held {
		e.HandleDatagram(d)
	}
	e.log.Info("HA: active: passive IKE SAs taken over", "ike-sas", n, "dropped", dropped,
		"oseq-shift", shift, "held-datagrams", len(held), "took", time.Since(start))
	for _, v := range e.config().VPNs {
		if v.StartAction == config.ActionStart && v.Initiator() && !e.hasSAOf(v) {
			e.startActions(v)
		}
	}
	return nil
}

// hasSAOf reports whether an IKE SA of the initiating VPN v exists (on
// the worker of its remote-address, where all of them live).
func (e *Engine) hasSAOf(v *config.VPN) bool {
	w := e.lockPeer(v.RemoteAddr)
	defer w.unlock()
	return w.byVPN[v.Name] != nil
}

// passivate turns the engine's IKE SAs into passive records (SetRole
// false) and returns how many it kept. The child SAs leave the dataplane
// in one batch (BatchDataplane) after every worker let go of its SAs:
// one by one, 10k of them held the old active for seconds, during which
// its peer waited for it to say standby (ha.Node announces the role
// before it passivates; the engine already answers nothing).
func (e *Engine) passivate() int {
	kept := 0
	var gone []ChildSA
	for _, w := range e.set.Load().workers {
		w.mu.Lock()
		var recs []*saRecord
		var all []*ikeSA
		w.each(func(sa *ikeSA) bool { all = append(all, sa); return true })
		for _, sa := range all {
			if sa.state == stateDeleted {
				continue // removed with another one
			}
			if sa.syncable() {
				recs = append(recs, e.recordOf(sa))
			}
			gone = e.dropQuietly(sa, gone)
		}
		w.unlock()
		e.ha.mu.Lock()
		if e.ha.passive == nil {
			e.ha.passive = map[[2]uint64]*saRecord{}
		}
		for _, r := range recs {
			e.ha.passive[[2]uint64{r.spii, r.spir}] = r
		}
		e.ha.mu.Unlock()
		kept += len(recs)
	}
	if len(gone) > 0 {
		for i, err := range DeleteChildren(e.o.Dataplane, gone) {
			if err != nil {
				e.log.Warn("HA standby: dataplane delete failed", "vpn", gone[i].VPN, "policy", gone[i].Policy,
					"in", spi32(gone[i].InSPI), "err", err)
			}
		}
	}
	return kept
}

// dropQuietly removes an IKE SA as removeSA does, but as the standby
// hands its SAs over: nothing is sent, no event is reported and no dpd-,
// close-action or reauthentication follows. Its child SAs are appended
// to gone, for the caller to take out of the dataplane in one batch.
// sa.w.mu is held.
func (e *Engine) dropQuietly(sa *ikeSA, gone []ChildSA) []ChildSA {
	sa.stopTimers()
	sa.stopIKETimers()
	sa.endHalfOpen()
	for _, c := range sa.children {
		e.dropSPI(c, sa)
		gone = append(gone, sa.childSA(c))
	}
	sa.children = nil
	for _, r := range sa.out {
		abortTask(sa, r.task)
	}
	sa.out = nil
	for _, t := range sa.tasks {
		abortTask(sa, t)
	}
	sa.tasks = nil
	sa.dropFollowup()
	sa.releaseVIPs() // the other node holds them now (vip.go)
	if sa.state == stateEstablished {
		e.dos.established.Add(-1)
	}
	sa.state = stateDeleted
	sa.reestablish = nil
	sa.releaseStream()
	e.contacts.drop(sa)
	e.set.Load().table.remove(sa)
	sa.w.drop(sa)
	clear(sa.keymat)
	return gone
}

// takeover installs the passive records (SetRole true); it returns how
// many IKE SAs it took over and how many records it dropped.
func (e *Engine) takeover(seqs func(SeqKey) (Seq, bool), shift uint64) (int, int) {
	e.ha.mu.Lock()
	recs := e.ha.passive
	e.ha.passive, e.ha.closed = nil, true
	e.ha.mu.Unlock()
	cfg := e.config()
	set := e.set.Load()
	byWorker := make([][]*saRecord, len(set.workers))
	dropped := 0
	for _, r := range recs {
		if cfg.VPN(r.vpn) == nil {
			e.log.Warn("HA takeover: dropping synced IKE SA of a VPN this node does not have",
				"vpn", r.vpn, "spi-i", spiString(r.spii), "spi-r", spiString(r.spir))
			dropped++
			continue
		}
		i := peerIndex(r.remote.Addr(), len(set.workers))
		byWorker[i] = append(byWorker[i], r)
	}
	taken := 0
	for i, rs := range byWorker {
		if len(rs) == 0 {
			continue
		}
		// Records come from a map: the unique-ids give them back the
		// order they were established in.
		slices.SortFunc(rs, func(a, b *saRecord) int { return int(int64(a.uid) - int64(b.uid)) })
		w := set.workers[i]
		w.mu.Lock()
		taken += e.restoreWorker(w, rs, cfg, seqs, shift)
		w.unlock()
	}
	dropped = len(recs) - taken
	e.ha.takenOver.Add(uint64(taken))
	e.ha.notTakenOver.Add(uint64(dropped))
	return taken, dropped
}

// restoreWorker takes over the records rs of worker w (locked) and
// returns how many IKE SAs it restored. Their child SAs go into the
// dataplane in one batch (BatchDataplane: one Apply per worker, not one
// per child SA), then each IKE SA resumes its timers and queued work.
func (e *Engine) restoreWorker(w *worker, rs []*saRecord, cfg *config.Config, seqs func(SeqKey) (Seq, bool), shift uint64) int {
	type restored struct {
		sa *ikeSA
		r  *saRecord
	}
	var sas []restored
	var pend []pendingChild
	for _, r := range rs {
		sa, err := e.restore(w, r, cfg.VPN(r.vpn))
		if err != nil {
			e.log.Warn("HA takeover: dropping synced IKE SA", "spi-i", spiString(r.spii), "spi-r", spiString(r.spir), "err", err)
			continue
		}
		sas = append(sas, restored{sa, r})
		for _, cr := range r.children {
			pend = append(pend, e.pendingChildOf(sa, cr, seqs, shift))
		}
	}
	cs := make([]ChildSA, len(pend))
	for i := range pend {
		cs[i] = pend[i].cs
	}
	errs := InstallChildren(e.o.Dataplane, cs)
	for i := range pend {
		var err error
		if errs != nil {
			err = errs[i]
		}
		e.restoreChild(pend[i], err)
	}
	for _, x := range sas {
		e.resume(x.sa, x.r)
	}
	return len(sas)
}

// restore makes the IKE SA of record r, of VPN v, an SA of worker w
// (locked); its child SAs follow (restoreChild), then its timers
// (resume). See SetRole.
func (e *Engine) restore(w *worker, r *saRecord, v *config.VPN) (*ikeSA, error) {
	for _, c := range r.children {
		if e.spiOwner(c.inSPI) != nil {
			return nil, fmt.Errorf("engine: child SA SPI %08x in use", c.inSPI)
		}
	}
	sa := &ikeSA{initiator: r.initiator(), vpn: v, uid: r.uid, spii: r.spii, spir: r.spir, id: r.ours()}
	w.add(sa)
	if !e.set.Load().table.insert(sa, sa.id) {
		w.drop(sa)
		return nil, fmt.Errorf("engine: IKE SPI %s in use", spiString(sa.id))
	}
	f := r.flags
	sa.natt, sa.natLocal, sa.natRemote, sa.tcp = f&recNATT != 0, f&recNATLocal != 0, f&recNATRemote != 0, f&recTCP != 0
	sa.ppkUsed, sa.mobike, sa.mobikeInitiator = f&recPPK != 0, f&recMOBIKE != 0, f&recMOBIKEInitiator != 0
	sa.fragOK, sa.peerRedirect = f&recFragOK != 0, f&recPeerRedirect != 0
	sa.local, sa.remote, sa.suite = r.local, r.remote, r.suite
	sa.addKEs, sa.peerAddrs = r.addKEs, r.peerAddrs
	sa.packKeys([][]byte{r.keymat})
	sa.lastIV = r.lastIV + ivMargin
	sa.nextID, sa.expectID, sa.ourWindow, sa.peerWindow = r.nextID, r.expectID, r.ourWindow, r.peerWindow
	if f&recLastResp != 0 {
		sa.lastResp, sa.haveLastResp, sa.lastRespID = r.lastResp, true, r.lastRespID
	}
	sa.haResync, sa.haFirstReq = true, true
	sa.peerID = r.peerID
	sa.setEstablished()
	sa.established, sa.lastIn = e.monoOf(r.established), e.monoOf(r.lastIn)
	e.contacts.add(sa)
	e.restoreVIPs(sa, r)
	return sa, nil
}

// resume starts the timers of the IKE SA sa restored from r, once its
// child SAs are in (see SetRole). sa.w.mu is held.
func (e *Engine) resume(sa *ikeSA, r *saRecord) {
	v := sa.vpn
	for _, t := range []struct {
		k    timerKind
		wall int64
	}{{timerIKERekey, r.rekeyAt}, {timerIKEReauth, r.reauthAt}, {timerIKEExpire, r.expireAt}, {timerDPD, r.dpdAt}} {
		if t.wall != 0 {
			sa.at[t.k] = e.deadlineOf(t.wall)
		}
	}
	if sa.at[timerDPD] == 0 && v.IKE.DPDDelay > 0 {
		sa.at[timerDPD] = e.deadline(v.IKE.DPDDelay)
	}
	if sa.natLocal {
		sa.startKeepalive() // RFC 3948 §2.3: we are behind the NAT
	}
	sa.resched()
	// The other node may hold the SA (it synced it to us): its end is
	// reported to the sink. The sink gets the records of a new active
	// from SyncSnapshot when its HA side asks.
	sa.haSynced = true
	sa.startNext() // the deletes of child SAs the old active had replaced
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		sa.log().Debug("HA: IKE SA taken over", "children", len(sa.children), "next-msgid", sa.nextID, "expected-msgid", sa.expectID)
	}
}

// pendingChild is a child SA of a record being taken over, on its way
// into the dataplane.
type pendingChild struct {
	sa *ikeSA
	c  *childSA
	cs ChildSA
}

// pendingChildOf builds child SA cr of the IKE SA sa being taken over,
// with its sequence numbers (see SetRole).
func (e *Engine) pendingChildOf(sa *ikeSA, cr childRecord, seqs func(SeqKey) (Seq, bool), shift uint64) pendingChild {
	c := &childSA{childCore: childCore{Policy: cr.policy, UniqueID: cr.uid, InSPI: cr.inSPI, OutSPI: cr.outSPI,
		ESN: cr.esn, Mode: cr.mode, Suite: cr.suite, In: cr.in, Out: cr.out, LocalTS: cr.localTS, RemoteTS: cr.remoteTS},
		installed: e.monoOf(cr.installed), state: cr.state}
	if cr.rekeyAt != 0 {
		c.at[timerChildRekey] = e.deadlineOf(cr.rekeyAt)
	}
	if cr.expireAt != 0 {
		c.at[timerChildExpire] = e.deadlineOf(cr.expireAt)
	}
	cs := sa.childSA(c)
	cs.OSeq = shift
	if s, ok := seqs(SeqKey{Dst: sa.remote.Addr().Unmap(), SPI: cr.outSPI}); ok {
		cs.OSeq = s.OSeq + shift
	}
	if s, ok := seqs(SeqKey{Dst: sa.local.Addr().Unmap(), SPI: cr.inSPI}); ok {
		cs.ISeq = s.ISeq
	}
	return pendingChild{sa: sa, c: c, cs: cs}
}

// restoreChild makes the child SA p, whose install ended with err, a
// child SA of its IKE SA. One the dataplane refused is left out and the
// peer told to delete its half. A child SA the old active had replaced
// by a rekey, or was deleting, is installed (the peer may still send on
// it) and deleted with an INFORMATIONAL exchange.
func (e *Engine) restoreChild(p pendingChild, err error) {
	sa, c := p.sa, p.c
	if err != nil {
		sa.childLog().Warn("HA takeover: the dataplane refused a child SA: the peer is told to delete it",
			"policy", c.Policy, "in", spi32(c.InSPI), "err", err)
		sa.queue(&deleteTask{child: c.InSPI, orphan: true})
		return
	}
	sa.children = append(sa.children, c)
	e.setSPIOwner(c, sa)
	switch c.state {
	case childRekeying:
		c.state = childInstalled // its rekey starts again (rekeyAt)
	case childRekeyed, childDeleting:
		c.replaced = c.state == childRekeyed
		c.state = childDeleting
		sa.queue(&deleteTask{child: c.InSPI})
	}
}

// restoreVIPs gives the IKE SA being taken over the virtual IPs of its
// record (RFC 7296 §2.19): the leases it gave the peer are claimed from
// the pools (VIPClaimer; one the pool cannot give is kept, and logged:
// the peer uses the address), the addresses the peer gave us are
// installed on the host again (VIPs.Install), as passivate took them
// away. sa.w.mu is held.
func (e *Engine) restoreVIPs(sa *ikeSA, r *saRecord) {
	if len(r.leases) == 0 && len(r.vips) == 0 && len(r.dns) == 0 {
		return
	}
	st := &vipState{local: r.vips, installedOn: r.vipsOn, dns: r.dns}
	vips := e.o.VIPs
	claimer, _ := vips.(VIPClaimer)
	for _, l := range r.leases {
		if vips != nil && (claimer == nil || !claimer.Claim(l)) {
			sa.log().Warn("HA takeover: the pool cannot hold the virtual IP the peer uses: it may be handed to another peer",
				"pool", l.Pool, "vip", l.Addr)
		}
		st.remote = append(st.remote, l)
	}
	for _, v := range r.vips {
		if vips == nil {
			break
		}
		if err := vips.Install(sa.vpn.Name, r.vipsOn, v); err != nil {
			sa.log().Warn("HA takeover: cannot install the virtual IP", "vip", v, "err", err)
		}
	}
	sa.vip = st
}

// wall turns an engine clock value into wall-clock Unix nanoseconds for a
// record (0 stays 0).
func (e *Engine) wall(at int64) int64 {
	if at == 0 {
		return 0
	}
	return e.timeAt(at).UnixNano()
}

// monoOf turns a record's wall-clock time into the engine's clock (0
// stays 0; a time before this engine started is negative, never 0).
func (e *Engine) monoOf(wall int64) int64 {
	if wall == 0 {
		return 0
	}
	m := e.mono() + (wall - time.Now().UnixNano())
	if m == 0 {
		m = -1
	}
	return m
}

// deadlineOf is monoOf for a deadline: one passed is due at the next
// round of the timers.
func (e *Engine) deadlineOf(wall int64) int64 {
	return max(e.monoOf(wall), e.mono()+1)
}
