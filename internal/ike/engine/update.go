package engine

import (
	"net/netip"
	"reflect"
	"slices"
	"sync/atomic"

	"secgw/internal/ike/config"
)

// SetConfig replaces the engine's configuration while it runs: every VPN
// whose value differs from the current one (another pointer) is compared,
// as ApplyConfig does with the VPNs it is given. The daemon's start and
// the tests use it; a commit uses ApplyConfig with the names of the VPNs
// it changed, so that its cost follows the change.
func (e *Engine) SetConfig(c *config.Config) []string {
	if c == nil {
		c = &config.Config{}
	}
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	old := e.config()
	var names []string
	i, j := 0, 0
	for i < len(old.VPNs) || j < len(c.VPNs) {
		switch {
		case j == len(c.VPNs) || (i < len(old.VPNs) && old.VPNs[i].Name < c.VPNs[j].Name):
			names = append(names, old.VPNs[i].Name)
			i++
		case i == len(old.VPNs) || c.VPNs[j].Name < old.VPNs[i].Name:
			names = append(names, c.VPNs[j].Name)
			j++
		default:
			if old.VPNs[i] != c.VPNs[j] {
				names = append(names, c.VPNs[j].Name)
			}
			i++
			j++
		}
	}
	return e.applyConfig(old, c, names)
}

// ApplyConfig replaces the engine's configuration while it runs (a
// commit); names are the VPNs the commit may have added, changed or
// removed: the other VPNs of c must be those of the current
// configuration (the same pointers, as config.Config.Apply shares them).
// An IKE SA whose VPN is unchanged keeps running (a VPN resolved again
// to an equal value counts as unchanged, and its SAs take the new
// value); an IKE SA whose VPN was removed, disabled or changed is deleted
// with an INFORMATIONAL exchange (RFC 7296 §1.4.1) when established, or
// dropped when still being set up, so that the next initiation uses the
// new policy. SAs of other VPNs are never touched, nor even visited. The
// trap policies of removed and changed VPNs go, and start-action applies
// to added and changed ones (the first SetConfig of the daemon adds them
// all). It returns the names of the VPNs whose SAs were torn down.
//
// The workers keep serving meanwhile: each is locked in turn, only for
// the time it takes to deal with the SAs of the named VPNs it holds and
// to refresh the candidates of its half-open responder SAs. threads,
// sa-table-size and sa-table-segments shape the workers and the SA
// table: a change of them takes effect at once when no IKE SA exists
// (the daemon's first commit; then every worker is locked), else when
// the engine is created again.
func (e *Engine) ApplyConfig(c *config.Config, names []string) []string {
	if c == nil {
		c = &config.Config{}
	}
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	return e.applyConfig(e.config(), c, names)
}

// applyConfig is ApplyConfig; e.cfgMu is held.
func (e *Engine) applyConfig(old, c *config.Config, names []string) []string {
	e.cfg.Store(c)
	// changed: gone or different; renewed: resolved again to an equal
	// value, or added (an SA still being deleted from an earlier
	// removal of the name takes the new value, as it always did).
	changed := map[string]bool{}
	renewed := map[string]*config.VPN{}
	for _, n := range names {
		ov, nv := old.VPN(n), c.VPN(n)
		if ov == nv {
			continue
		}
		e.work.vpnsCompared.Add(1)
		switch {
		case ov == nil:
			renewed[n] = nv
		case nv == nil || !reflect.DeepEqual(ov, nv):
			changed[n] = true
		default:
			renewed[n] = nv
		}
	}
	for name := range changed {
		e.removeTraps(name)
	}
	var torn []string
	seen := map[string]bool{}
	set := e.set.Load()
	for _, w := range set.workers {
		w.mu.Lock()
		if w.retired { // reshaped meanwhile: it holds no SA
			w.mu.Unlock()
			continue
		}
		for _, sa := range w.vpnSAs("") {
			e.work.sasVisited.Add(1)
			if sa.state == stateDeleted || sa.handshake == nil || len(changed)+len(renewed) == 0 {
				continue
			}
			// A responder SA before IKE_AUTH picked its VPN: keep the
			// candidates that still exist, in their new form.
			kept := sa.candidates[:0]
			for _, v := range sa.candidates {
				if nv := c.VPN(v.Name); nv != nil {
					kept = append(kept, nv)
				}
			}
			sa.candidates = kept
		}
		for name, nv := range renewed {
			for _, sa := range w.vpnSAs(name) {
				e.work.sasVisited.Add(1)
				sa.vpn = nv
			}
		}
		for name := range changed {
			for _, sa := range w.vpnSAs(name) {
				e.work.sasVisited.Add(1)
				if sa.state == stateDeleted {
					continue // removed by the removal of another
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
		}
		w.unlock()
	}
	if !set.sameShape(c.Global) {
		set := e.lockAll()
		if !set.sameShape(c.Global) && set.table.len() == 0 {
			set = e.reshape(set, c.Global)
		} else if !set.sameShape(c.Global) {
			e.log.Info("threads, sa-table-size and sa-table-segments apply when no IKE SA exists: keeping the current ones",
				"ike-sas", set.table.len())
		}
		set.unlockAll()
	}
	for _, n := range names {
		if v := c.VPN(n); v != nil && (old.VPN(n) == nil || changed[n]) {
			e.startActions(v)
		}
	}
	slices.Sort(torn)
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

// UpdateWork counts what the configuration changes of an engine did,
// since it was created: the work of a commit, which must follow the
// size of the change and not that of the configuration.
type UpdateWork struct {
	// VPNsCompared are the VPNs whose old and new values were compared.
	VPNsCompared uint64
	// SAsVisited are the IKE SAs looked at.
	SAsVisited uint64
}

type updateWork struct{ vpnsCompared, sasVisited atomic.Uint64 }

// UpdateWork returns the counts of the configuration changes so far.
func (e *Engine) UpdateWork() UpdateWork {
	return UpdateWork{VPNsCompared: e.work.vpnsCompared.Load(), SAsVisited: e.work.sasVisited.Load()}
}
