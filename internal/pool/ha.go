package pool

import "net/netip"

// HA pools (`vrf main ike ha pool`): their leases are mirrored on the HA
// peer, so that a node taking over never hands out an address the other
// one gave, to an IKE SA or as a reservation. The active node
// reports each lease it makes through Options.OnLease (Event.HA set) and
// lists them all for a full resync (HALeases); the standby records them
// (InjectHA) and, at the end of a resync, drops what the active no longer
// has (RetainHA). A lease the active loses needs no message of its own:
// an address taken back from a reservation is leased to another identity
// at once (Event Leased, which replaces the old lease on the peer), and
// addresses leave a pool only by a commit, which the operator makes on
// both nodes (configuration is not synced by the pair).

// HALeases calls fn, with the manager's lock held, for every lease of the
// ha pools, held or reserved (Event with Leased and HA set): the content
// of a full resync of the peer. fn must not call the Manager.
func (m *Manager) HALeases(fn func(Event)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, p := range m.pools {
		if !p.cfg.HA {
			continue
		}
		for _, l := range p.ordered() {
			fn(Event{Pool: name, Identity: l.identity, Addr: l.addr, Leased: true, HA: true})
		}
	}
}

// InjectHA is Inject for the leases the HA peer synced: it refuses (false)
// a pool that is not an ha pool here, whose leases are this node's own.
func (m *Manager) InjectHA(pool, identity string, addr netip.Addr) bool {
	m.mu.Lock()
	p := m.pools[pool]
	ha := p != nil && p.cfg.HA
	m.mu.Unlock()
	return ha && m.Inject(pool, identity, addr)
}

// RetainHA drops the reserved leases of the ha pools that keep rejects
// (the active's resync did not name them: it no longer has them) and
// returns how many went. A lease one of our IKE SAs holds stays. The
// lease file is rewritten when one went (there is no removal record).
func (m *Manager) RetainHA(keep func(pool, identity string, addr netip.Addr) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for name, p := range m.pools {
		if !p.cfg.HA {
			continue
		}
		for _, l := range p.ordered() {
			if l.holders == 0 && !keep(name, l.identity, l.addr) {
				p.remove(l)
				n++
			}
		}
	}
	if n > 0 {
		if err := m.rewrite(); err != nil {
			m.o.Logger.Warn("pool: cannot rewrite the lease file", "err", err)
		}
	}
	return n
}
