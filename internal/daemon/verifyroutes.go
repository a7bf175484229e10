package daemon

import (
	"sync"

	"secgw/internal/ike/config"
	"secgw/internal/routes"
)

// waitRoutes keeps the trap routes of a security policy out while one of
// its child SAs waits for datapath verification (vpn-monitor
// verify-path). A trap's routes (routedProgrammer.InstallTrap: with the
// userspace dataplane, the remote selectors into the TUN device) are the
// child SA's routes too: once the child SA's SAs are in, the traffic
// they draw is protected by it, so withholding the child SA's routes
// alone would withhold nothing. They come back when no child SA of the
// policy waits any more: it was verified (its own routes are installed
// first) or deleted (the trap then raises acquires again).
type waitRoutes struct {
	mu sync.Mutex
	// traps are the installed traps' routes, by policy; waiting the
	// inbound SPIs of each policy's child SAs that wait.
	traps   map[config.PolicyRef]routes.Child
	waiting map[config.PolicyRef]map[uint32]bool
}

func refOf(c routes.Child) config.PolicyRef { return config.PolicyRef{VPN: c.VPN, Policy: c.Policy} }

// withhold records that child SA c waits, and takes its policy's trap
// routes out when it is the first.
func (r *routing) withhold(c routes.Child) {
	w := &r.wait
	w.mu.Lock()
	defer w.mu.Unlock()
	ref := refOf(c)
	if w.waiting == nil {
		w.waiting = map[config.PolicyRef]map[uint32]bool{}
	}
	if len(w.waiting[ref]) == 0 {
		if t, ok := w.traps[ref]; ok {
			if err := r.m.Remove(t); err != nil {
				r.log.Warn("routes: cannot remove a trap's routes for datapath verification", "vpn", t.VPN, "policy", t.Policy, "err", err)
			}
		}
		w.waiting[ref] = map[uint32]bool{}
	}
	w.waiting[ref][c.InSPI] = true
}

// release records that child SA c no longer waits (verified or deleted),
// and puts its policy's trap routes back when it was the last.
func (r *routing) release(c routes.Child) {
	w := &r.wait
	w.mu.Lock()
	defer w.mu.Unlock()
	ref := refOf(c)
	if !w.waiting[ref][c.InSPI] {
		return
	}
	delete(w.waiting[ref], c.InSPI)
	if len(w.waiting[ref]) > 0 {
		return
	}
	delete(w.waiting, ref)
	if t, ok := w.traps[ref]; ok {
		if err := r.m.Add(t); err != nil {
			r.log.Debug("routes: trap back without all its routes", "vpn", t.VPN, "policy", t.Policy, "err", err)
		}
	}
}

// addTrap installs the routes of trap t, unless a child SA of its policy
// waits.
func (r *routing) addTrap(t routes.Child) error {
	w := &r.wait
	w.mu.Lock()
	defer w.mu.Unlock()
	ref := refOf(t)
	if w.traps == nil {
		w.traps = map[config.PolicyRef]routes.Child{}
	}
	w.traps[ref] = t
	if len(w.waiting[ref]) > 0 {
		return nil
	}
	return r.m.Add(t)
}

// removeTrap removes the routes of trap t.
func (r *routing) removeTrap(t routes.Child) error {
	w := &r.wait
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.traps, refOf(t))
	return r.m.Remove(t)
}
