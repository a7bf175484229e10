package ikesvc

import (
	"errors"

	"secgw/internal/datastore"
)

// A Service with Options.CheckOnly runs no IKE: it stands for a vrf whose
// instance cannot run yet (its namespace is missing) and refuses at
// Prepare what that instance would refuse, at the cost of what the
// commit changed, as a running Service does (commit.go). Prepare resolves
// and checks, and opens no socket; Apply keeps the resolved
// configuration and the pools as the base of the next commit's check,
// and hands nothing to the engine, the sockets, the lease store, RADIUS
// or the VPN monitor; Abort puts the previous base back.

// keepCheck records p as tx's prepared check; s.mu is not held.
func (s *Service) keepCheck(tx *datastore.Tx, p *prepared) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finalize()
	s.pending[tx.ID] = p
	return nil
}

// applyCheck makes tx's checked configuration the base of the next
// check; s.mu is held.
func (s *Service) applyCheck(tx *datastore.Tx) error {
	p := s.pending[tx.ID]
	if p == nil {
		return errors.New("ike: apply without prepare")
	}
	s.aaa.abort(tx.ID) // the check runs no RADIUS client
	p.oldCfg, p.oldLocals = s.cfg, s.locals
	s.vmu.Lock()
	p.oldPools = poolsPrepared{pools: s.pools, installOn: s.installOn, changed: p.pools.changed}
	s.pools, s.installOn = p.pools.pools, p.pools.installOn
	s.vmu.Unlock()
	s.cfg, s.locals, s.started = p.cfg, p.locals, true
	p.applied = true
	return nil
}

// abortCheck puts back the base tx's Apply replaced; s.mu is held.
func (s *Service) abortCheck(tx *datastore.Tx) {
	p := s.pending[tx.ID]
	delete(s.pending, tx.ID)
	s.aaa.abort(tx.ID)
	if p == nil || !p.applied {
		return
	}
	s.vmu.Lock()
	s.pools, s.installOn = p.oldPools.pools, p.oldPools.installOn
	s.vmu.Unlock()
	s.cfg, s.locals = p.oldCfg, p.oldLocals
}
