package engine

import (
	"net/netip"
	"reflect"

	"secgw/internal/ike/config"
)

// SetConfig replaces the engine's configuration while it runs (a commit).
// An IKE SA whose VPN is unchanged keeps running on the new VPN value; an
// IKE SA whose VPN was removed, disabled or changed is deleted with an
// INFORMATIONAL exchange (RFC 7296 §1.4.1) when established, or dropped
// when still being set up, so that the next initiation uses the new
// policy. SAs of other VPNs are never touched. The trap policies of
// removed and changed VPNs go, and start-action applies to added and
// changed ones (the first SetConfig of the daemon adds them all). It
// returns the names of the VPNs whose SAs were torn down.
//
// threads, sa-table-size and sa-table-segments shape the workers and the
// SA table: a change of them takes effect at once when no IKE SA exists
// (the daemon's first commit), else when the engine is created again.
// Every worker is locked while the configuration changes.
func (e *Engine) SetConfig(c *config.Config) []string {
	if c == nil {
		c = &config.Config{}
	}
	set := e.lockAll()
	defer func() { set.unlockAll() }()
	old := e.config()
	e.cfg.Store(c)
	changed := map[string]bool{}
	for _, ov := range old.VPNs {
		if nv := c.VPN(ov.Name); nv == nil || !reflect.DeepEqual(ov, nv) {
			changed[ov.Name] = true
		}
	}
	for name := range changed {
		e.removeTraps(name)
	}
	var torn []string
	seen := map[string]bool{}
	var all []*ikeSA
	for _, w := range set.workers {
		w.each(func(sa *ikeSA) bool { all = append(all, sa); return true })
	}
	for _, sa := range all {
		if sa.state == stateDeleted {
			continue // removed by the removal of another
		}
		if sa.vpn == nil && sa.handshake != nil {
			// A responder SA before IKE_AUTH picked its VPN: keep the
			// candidates that still exist, in their new form.
			kept := sa.candidates[:0]
			for _, v := range sa.candidates {
				if nv := c.VPN(v.Name); nv != nil {
					kept = append(kept, nv)
				}
			}
			sa.candidates = kept
			continue
		}
		name := sa.vpn.Name
		if !changed[name] {
			if nv := c.VPN(name); nv != nil {
				sa.vpn = nv
			}
			// else the VPN went in an earlier commit and the SA's
			// deletion is under way: it keeps the VPN it was made
			// for, to report and to finish the deletion with.
			continue
		}
		if !seen[name] {
			seen[name] = true
			torn = append(torn, name)
		}
		if sa.state == stateEstablished {
			sa.log().Info("configuration changed: deleting IKE SA")
			sa.queue(&deleteTask{ike: true})
			sa.startNext()
			continue
		}
		sa.log().Info("configuration changed: ending IKE SA being set up")
		e.endUnestablished(sa)
	}
	if !set.sameShape(c.Global) {
		if set.table.len() == 0 {
			set = e.reshape(set, c.Global)
		} else {
			e.log.Info("threads, sa-table-size and sa-table-segments apply when no IKE SA exists: keeping the current ones",
				"ike-sas", set.table.len())
		}
	}
	for _, v := range c.VPNs {
		if ov := old.VPN(v.Name); ov == nil || changed[v.Name] {
			e.startActions(v)
		}
	}
	return torn
}

// reshape replaces the workers and the SA table, empty, by ones of the
// shape g asks for. old's workers are all locked; the new ones are
// returned locked, old's are retired and unlocked (whoever waited for
// one starts again with the new set).
func (e *Engine) reshape(old *workerSet, g config.Global) *workerSet {
	n := e.newWorkerSet(g)
	for _, w := range n.workers {
		w.mu.Lock()
	}
	e.set.Store(n)
	for _, w := range old.workers {
		w.retired = true
		if w.clock.stop != nil {
			w.clock.stop()
		}
		// Queued work runs once the new workers are unlocked too.
		n.workers[0].later = append(n.workers[0].later, w.later...)
		w.later = nil
		w.mu.Unlock()
	}
	size, segs := n.table.shape()
	e.log.Info("IKE workers and SA table set up", "threads", len(n.workers), "sa-table-size", size, "sa-table-segments", segs)
	return n
}

// Config returns the configuration in use; the caller must not modify it.
func (e *Engine) Config() *config.Config { return e.config() }

// DeleteIKEByUID deletes the IKE SA with the given unique-id: with an
// INFORMATIONAL exchange when established, at once when still being set
// up (see endUnestablished). The operator's flush is FlushIKE, which
// neither retransmits nor waits.
func (e *Engine) DeleteIKEByUID(uid uint32) error {
	if sa, w := e.byUID(uid); sa != nil {
		defer w.unlock()
		if sa.state == stateEstablished {
			sa.queue(&deleteTask{ike: true})
			sa.startNext()
		} else {
			e.endUnestablished(sa)
		}
		return nil
	}
	return ErrNoSA
}

// endUnestablished ends an IKE SA that is not established; its worker
// is locked. Once our IKE_AUTH request is out the peer may complete the
// exchange and keep an IKE SA (and a child SA) we would not have: such an
// SA is deleted with an INFORMATIONAL exchange as soon as the IKE_AUTH
// answer is in (one exchange at a time, RFC 7296 §2.3), so that the peer
// is told. One still in IKE_SA_INIT holds nothing the peer could use
// without us, and is dropped at once.
func (e *Engine) endUnestablished(sa *ikeSA) {
	if sa.state == stateAuth && sa.initiator {
		if !sa.closing {
			sa.closing = true
			sa.queueFirst(&deleteTask{ike: true})
		}
		return
	}
	e.removeSA(sa)
}

// UsesLocal reports whether an IKE SA of the engine has local address a
// (the daemon keeps the sockets of a removed address open until none
// has).
func (e *Engine) UsesLocal(a netip.Addr) bool {
	a = a.Unmap()
	found := false
	e.eachSA(func(sa *ikeSA) bool {
		found = sa.local.Addr().Unmap() == a
		return !found
	})
	return found
}
