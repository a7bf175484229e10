package childsa

import (
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"

	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
)

// Trap policies (start-action, close-action and dpd-action trap): the
// out policy of a security policy, installed without SAs, so that the
// first matching packet raises an Acquire (the kernel's XFRM acquire, or
// the userspace dataplane's) and the engine negotiates the child SA.
//
// A trap is a child without SAs: it takes the reqid a child of the same
// VPN, policy and selectors would take, and shares the out policy with
// such a child (the policy key is the same, and so the policy), so that
// the policy stays when the child goes and the next packet traps again.

var _ engine.TrapDataplane = (*Programmer)(nil)

// InstallTrap implements engine.TrapDataplane.
func (p *Programmer) InstallTrap(t engine.Trap) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.traps == nil {
		p.traps = map[string]*child{}
	}
	if _, ok := p.traps[t.Policy]; ok {
		return nil
	}
	c := trapChild(t)
	opts := p.childOptions(c.VPN, c.Policy)
	rk := childReqKey(c, opts)
	re, err := p.reqEntry(rk)
	if err != nil {
		return err
	}
	_, pols, err := ChildEntries(c, opts, re.id)
	if err != nil {
		return err
	}
	ch := &child{c: c, re: re}
	for _, pol := range pols {
		if pol.Dir == dataplane.Out {
			ch.pols = append(ch.pols, pol)
		}
	}
	var ops []dataplane.Op
	for i := range ch.pols {
		if p.policies[ch.pols[i].Key()] == nil {
			ops = append(ops, dataplane.Op{Kind: dataplane.AddPolicy, Policy: &ch.pols[i]})
		}
	}
	if len(ops) > 0 {
		if err := p.apply(ops); err != nil {
			p.undo(ops, err)
			return fmt.Errorf("dataplane: install trap %s: %w", t.Policy, err)
		}
	}
	p.register(ch, re, ch.pols)
	p.traps[t.Policy] = ch
	p.log.Info("trap policy programmed", "vpn", t.VPN, "policy", t.Policy, "reqid", re.id, "policies", len(ch.pols))
	return nil
}

// RemoveTrap implements engine.TrapDataplane.
func (p *Programmer) RemoveTrap(t engine.Trap) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.traps[t.Policy]
	if ch == nil {
		return nil
	}
	delete(p.traps, t.Policy)
	ops := p.unregister(ch, ch.pols)
	if len(ops) == 0 {
		return nil
	}
	if err := p.apply(ops); err != nil {
		return fmt.Errorf("dataplane: remove trap %s: %w", t.Policy, err)
	}
	return nil
}

// trapChild is the child SA a trap stands for: its selectors and outer
// addresses, no SPIs nor keys.
func trapChild(t engine.Trap) engine.ChildSA {
	port := func(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, engine.PortIKE) }
	return engine.ChildSA{VPN: t.VPN, Policy: t.Policy, Local: port(t.Local), Remote: port(t.Remote),
		LocalTS: []ipsec.TrafficSelector{t.LocalTS}, RemoteTS: []ipsec.TrafficSelector{t.RemoteTS}, Mode: t.Mode}
}
