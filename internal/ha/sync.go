package ha

import (
	"time"
)

// handle applies one message from the peer. SA records and numbers are
// taken while this node is not active (init or standby hold passive SAs);
// an active node ignores them: its own SAs are the truth until the role
// state machine settles a split brain.
func (n *Node) handle(m Message) {
	n.mu.Lock()
	n.stats.Received++
	if h, ok := m.(Hello); ok {
		old := n.peerRole
		changed := old != h.Role
		n.peerRole, n.peerSync = h.Role, h.Synced
		if old == RoleActive && h.Role != RoleActive {
			// A peer that was active (split brain, or a takeover back)
			// held its own SAs: it gets a full snapshot. One that was
			// init already took the snapshot of the link's start.
			n.resync = true
		}
		if changed {
			// A snapshot may now be due (the peer's role is known).
			n.kickLocked()
		}
		n.mu.Unlock()
		if h.NodeID != n.peerID() {
			n.log.Error("HA hello with a wrong node-id", "node-id", h.NodeID)
		}
		if changed {
			_, _ = n.reevaluate("peer " + h.Role.String())
		}
		return
	}
	passive := n.role != RoleActive
	if !passive {
		n.mu.Unlock()
		n.log.Debug("HA: sync message ignored by the active node", "type", m.msgType())
		return
	}
	n.stats.LastSync = time.Now()
	switch m := m.(type) {
	case SAUpdate:
		id := saID{m.SPIi, m.SPIr}
		n.sas[id] = struct{}{}
		if n.snap != nil {
			n.snap.sas[id] = struct{}{}
		}
		n.mu.Unlock()
		if err := n.eng.Import(m.Record); err != nil {
			n.mu.Lock()
			n.stats.Rejected++
			delete(n.sas, id)
			n.mu.Unlock()
			n.log.Error("HA: SA record not imported", "spi-i", m.SPIi, "spi-r", m.SPIr, "err", err)
		}
		return
	case SADelete:
		delete(n.sas, saID{m.SPIi, m.SPIr})
		n.mu.Unlock()
		n.eng.Remove(m.SPIi, m.SPIr)
		return
	case SeqBatch:
		for _, e := range m.Entries {
			n.store[e.Key] = e
			if n.snap != nil {
				n.snap.seqs[e.Key] = struct{}{}
			}
		}
		for _, k := range m.Gone {
			delete(n.store, k)
		}
	case Leases:
		if n.snap != nil {
			for _, l := range m.Leases {
				n.snap.leases[l] = struct{}{}
			}
		}
		n.mu.Unlock()
		n.applyLeases(m.Leases)
		return
	case SnapshotBegin:
		n.snap = &snapSeen{sas: map[saID]struct{}{}, seqs: map[SeqKey]struct{}{}, leases: map[Lease]struct{}{}}
	case SnapshotEnd:
		if n.snap == nil {
			break
		}
		// What the active no longer has went while the link was down.
		var gone []saID
		for id := range n.sas {
			if _, ok := n.snap.sas[id]; !ok {
				gone = append(gone, id)
				delete(n.sas, id)
			}
		}
		for k := range n.store {
			if _, ok := n.snap.seqs[k]; !ok {
				delete(n.store, k)
			}
		}
		leases := n.snap.leases
		n.snap, n.synced = nil, true
		// The active learns at once that its standby caught up.
		n.helloDue = true
		n.kickLocked()
		n.mu.Unlock()
		for _, id := range gone {
			n.eng.Remove(id.i, id.r)
		}
		dropped := 0
		if n.cfg.Leases != nil {
			// The reservations the active no longer has went while the
			// link was down (or were never its: a former active's own).
			dropped = n.cfg.Leases.RetainLeases(func(l Lease) bool {
				_, ok := leases[l]
				return ok
			})
		}
		n.log.Info("HA snapshot received", "ike-sas", m.SAs, "dropped", len(gone), "leases", len(leases), "leases-dropped", dropped)
		return
	}
	n.mu.Unlock()
}

// applyLeases records the active's leases in the HA pools (standby). A
// lease refused (a pool this node does not have as an HA pool, or without
// the address: the two configurations differ) is counted and logged: the
// new active could give that address twice.
func (n *Node) applyLeases(ls []Lease) {
	if n.cfg.Leases == nil {
		return
	}
	refused := 0
	for _, l := range ls {
		if !n.cfg.Leases.ApplyLease(l) {
			refused++
			if refused == 1 {
				n.log.Error("HA: lease of an HA pool not recorded: is the pool configured alike on both nodes?",
					"pool", l.Pool, "vip", l.Addr.String())
			}
		}
	}
	if refused > 0 {
		n.mu.Lock()
		n.stats.Rejected += uint64(refused)
		n.mu.Unlock()
	}
}

// seqLoop sends the active's changed sequence numbers every
// sync-period-time, and every packetCheck those of the SAs that advanced
// by sync-period-packets thousand packets (HA design, decision 6).
func (n *Node) seqLoop() {
	defer n.wg.Done()
	var period, packets <-chan time.Time
	if n.cfg.SyncPeriod > 0 {
		t := time.NewTicker(n.cfg.SyncPeriod)
		defer t.Stop()
		period = t.C
	}
	if n.cfg.SyncPackets > 0 {
		t := time.NewTicker(packetCheck)
		defer t.Stop()
		packets = t.C
	}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-period:
			n.syncSeqs(0)
		case <-packets:
			n.syncSeqs(n.cfg.SyncPackets * 1000)
		}
	}
}

// syncSeqs reads the numbers and queues those that advanced by at least
// step (any change when 0) since last sent, and, with step 0, the ESP SAs
// gone since.
func (n *Node) syncSeqs(step uint64) {
	n.mu.Lock()
	ready := n.role == RoleActive && n.sess != nil && !n.resync
	n.mu.Unlock()
	if !ready || n.src == nil {
		return
	}
	entries, err := n.src.Seqs(n.ctx)
	if err != nil {
		n.log.Error("HA: reading sequence numbers", "err", err)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var batch SeqBatch
	seen := make(map[SeqKey]struct{}, len(entries))
	for _, e := range entries {
		seen[e.Key] = struct{}{}
		last, ok := n.store[e.Key]
		if ok && !advanced(last, e, step) {
			continue
		}
		batch.Entries = append(batch.Entries, e)
	}
	if step == 0 {
		for k := range n.store {
			if _, ok := seen[k]; !ok {
				batch.Gone = append(batch.Gone, k)
			}
		}
	}
	for len(batch.Entries) > 0 || len(batch.Gone) > 0 {
		var part SeqBatch
		k := min(len(batch.Entries), maxSeqEntries)
		part.Entries, batch.Entries = batch.Entries[:k], batch.Entries[k:]
		g := min(len(batch.Gone), maxSeqEntries)
		part.Gone, batch.Gone = batch.Gone[:g], batch.Gone[g:]
		if !n.enqueueLocked(part) {
			return // a snapshot follows and carries them all
		}
		for _, e := range part.Entries {
			n.store[e.Key] = e
		}
		for _, k := range part.Gone {
			delete(n.store, k)
		}
	}
}

// advanced says whether e moved by step since last (any change when step
// is 0).
func advanced(last, e SeqEntry, step uint64) bool {
	if step == 0 {
		return last.Seq != e.Seq
	}
	return e.OSeq >= last.OSeq+step || e.ISeq >= last.ISeq+step
}
