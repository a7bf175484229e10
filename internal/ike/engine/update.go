package engine

import (
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
func (e *Engine) SetConfig(c *config.Config) []string {
	if c == nil {
		c = &config.Config{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.o.Config
	e.o.Config = c
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
	for _, sa := range e.sas {
		if sa.vpn == nil {
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
			sa.vpn = c.VPN(name)
			continue
		}
		if !seen[name] {
			seen[name] = true
			torn = append(torn, name)
		}
		if sa.state == stateEstablished {
			sa.log.Info("configuration changed: deleting IKE SA")
			sa.queue(&deleteTask{ike: true})
			sa.startNext()
			continue
		}
		sa.log.Info("configuration changed: dropping IKE SA being set up")
		e.removeSA(sa)
	}
	for _, v := range c.VPNs {
		if ov := old.VPN(v.Name); ov == nil || changed[v.Name] {
			e.startActions(v)
		}
	}
	return torn
}

// Config returns the configuration in use; the caller must not modify it.
func (e *Engine) Config() *config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.o.Config
}

// DeleteIKEByUID deletes the IKE SA with the given unique-id: with an
// INFORMATIONAL exchange when established, at once when still being set
// up.
func (e *Engine) DeleteIKEByUID(uid uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, sa := range e.sas {
		if sa.uid != uid {
			continue
		}
		if sa.state == stateEstablished {
			sa.queue(&deleteTask{ike: true})
			sa.startNext()
		} else {
			e.removeSA(sa)
		}
		return nil
	}
	return ErrNoSA
}
