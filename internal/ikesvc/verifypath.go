package ikesvc

import (
	"fmt"

	"secgw/internal/ike/engine"
	"secgw/internal/vpnmon"
)

// Datapath verification (security-policy vpn-monitor verify-path,
// Juniper's IPsec datapath verification): a new child SA of such a
// policy is installed in the dataplane but its routes (the routes
// subsystem's: into the TUN device, install-routes, inject-routes) wait
// until the VPN monitor sees an echo through it answered; then they are
// installed (Options.OnMonitorRoutes up) and the monitor goes on as
// configured. While it waits the child-sa state's vpn-monitor says
// verifying-path. After threshold unanswered echoes the child SA is
// deleted and a new one negotiated (Juniper brings the tunnel down and
// renegotiates), whatever the action: its routes were never installed.
//
// As Juniper's, a rekey does not verify again: the new child SA of a
// verified one is routed at once, that of one still waiting takes its
// place in the wait. A child SA installed by an HA takeover is routed at
// once too: which child SAs were verified is not synchronised, and
// withholding the routes of every taken-over child SA would cut the
// traffic that failover exists to keep.

// WithholdRoutes reports whether the routes of child SA c, which the
// dataplane is installing, wait for datapath verification, and if so
// records it. The daemon's routes ask it before they route a new child
// SA.
func (s *Service) WithholdRoutes(c engine.ChildSA) bool {
	v := s.mon
	if v == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.policies[c.Policy]
	if !ok || !p.verify {
		return false
	}
	if _, ok := peerInner(c, p.cfg.Src); !p.cfg.Dst.IsValid() && !ok {
		return false // nothing to verify with (sync logs it)
	}
	if c.RekeyOf != 0 {
		if _, waiting := v.unverified[vpnmon.Key(c.RekeyOf)]; !waiting {
			return false // the rekey of a verified child SA
		}
	}
	v.unverified[vpnmon.Key(c.UniqueID)] = c
	return true
}

// RoutesWithheld reports whether the routes of child SA c still wait for
// datapath verification; if so c (a MOBIKE move's new addresses)
// becomes the child SA they are installed for.
func (s *Service) RoutesWithheld(c engine.ChildSA) bool {
	v := s.mon
	if v == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	k := vpnmon.Key(c.UniqueID)
	if _, ok := v.unverified[k]; !ok {
		return false
	}
	v.unverified[k] = c
	return true
}

// withheld reports whether the routes of child SA uid wait.
func (v *vpnMonitor) withheld(uid uint32) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.unverified[vpnmon.Key(uid)]
	return ok
}

// takeUnverified removes child SA k from those waiting and returns it.
func (v *vpnMonitor) takeUnverified(k vpnmon.Key) (engine.ChildSA, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.unverified[k]
	delete(v.unverified, k)
	return c, ok
}

// unverifiedWithout removes from those waiting the child SAs whose
// policy no longer has verify-path in policies, and returns them: their
// routes are installed. v.mu is held.
func (v *vpnMonitor) unverifiedWithout(policies map[string]monitorPolicy) []engine.ChildSA {
	var out []engine.ChildSA
	for k, c := range v.unverified {
		if p, ok := policies[c.Policy]; !ok || !p.verify {
			delete(v.unverified, k)
			out = append(out, c)
		}
	}
	return out
}

// verified installs the routes of child SA c, which waited.
func (v *vpnMonitor) verified(c engine.ChildSA, reason string) {
	v.s.log.Info("VPN monitor: child SA routed", "vpn", c.VPN, "policy", c.Policy, "unique-id", c.UniqueID, "reason", reason)
	v.event("vpn-monitor-up", c, reason)
	v.s.o.OnMonitorRoutes(c, true)
}

// verifyFailed handles child SA k found down while its routes waited:
// it is deleted and a new one negotiated. It reports false for a child
// SA that was not waiting (the configured action runs).
func (v *vpnMonitor) verifyFailed(k vpnmon.Key, c engine.ChildSA, st vpnmon.Status) bool {
	if _, ok := v.takeUnverified(k); !ok {
		return false
	}
	reason := fmt.Sprintf("%d echoes to the monitored destination unanswered: datapath verification failed, routes never installed: child SA renegotiated", st.Failures)
	v.s.log.Warn("VPN monitor: datapath verification failed", "vpn", c.VPN, "policy", c.Policy, "unique-id", c.UniqueID, "failures", st.Failures)
	v.event("vpn-monitor-down", c, reason)
	if err := v.s.eng.DeleteChildByUID(c.UniqueID); err != nil {
		v.s.log.Warn("VPN monitor: cannot delete the child SA", "unique-id", c.UniqueID, "err", err)
	}
	if _, err := v.s.eng.InitiateChild(c.Policy); err != nil {
		v.s.log.Warn("VPN monitor: cannot negotiate a new child SA", "policy", c.Policy, "err", err)
	}
	return true
}

// childGone forgets the waiting child SAs the engine removed or
// replaced (ev a ChildDown or ChildRekeyed).
func (v *vpnMonitor) childGone(ev engine.Event) {
	if v == nil {
		return
	}
	var k vpnmon.Key
	switch ev.Kind {
	case engine.ChildDown:
		k = vpnmon.Key(ev.Child)
	case engine.ChildRekeyed:
		k = vpnmon.Key(ev.Old)
	default:
		return
	}
	v.mu.Lock()
	delete(v.unverified, k)
	v.mu.Unlock()
}
