package pool

import (
	"net/netip"
	"slices"
)

// State is the usage of one pool (`show ike pool`).
type State struct {
	Name string
	HA   bool
	// Size is the number of addresses of the pool (IPv4 and IPv6),
	// capped at MaxUint64.
	Size uint64
	// Leased counts the leases, held or reserved; Held those an IKE SA
	// holds.
	Leased, Held int
	// Exhausted counts the requests the pool could not serve.
	Exhausted uint64
	// Leases are ordered by address.
	Leases []LeaseState
}

// LeaseState is one lease of a pool.
type LeaseState struct {
	Identity string
	Addr     netip.Addr
	// Holders counts the IKE SAs that hold the address; 0: released,
	// reserved for the identity.
	Holders int
}

// State returns the usage of every pool, ordered by name, with their
// leases when leases is set.
func (m *Manager) State(leases bool) []State {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]State, 0, len(m.pools))
	for name, p := range m.pools {
		s := State{Name: name, HA: p.cfg.HA, Exhausted: m.exhausted[name]}
		for i := range p.fam {
			if s.Size += p.fam[i].size; s.Size < p.fam[i].size {
				s.Size = ^uint64(0)
			}
			s.Leased += p.fam[i].leased
		}
		for _, l := range p.byAddr {
			if l.holders > 0 {
				s.Held++
			}
			if leases {
				s.Leases = append(s.Leases, LeaseState{Identity: l.identity, Addr: l.addr, Holders: l.holders})
			}
		}
		slices.SortFunc(s.Leases, func(a, b LeaseState) int { return a.Addr.Compare(b.Addr) })
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b State) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}
