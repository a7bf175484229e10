package childsa

import (
	"errors"
	"fmt"
	"reflect"
	"secgw/internal/ipsec"
	"slices"

	"secgw/internal/dataplane"
	"secgw/internal/ike/config"
)

// Clear policies (security-policy action pass and drop): policies without
// SAs nor templates, installed from the configuration rather than by a
// negotiation. Like a trap, each is a child without SAs; it has no reqid.
// Its policies share keys with children and traps as theirs do: the first
// to install a key owns it, the next takes it over when it goes.

// clearKey names a clear policy: its VPN and security policy.
type clearKey struct{ vpn, policy string }

// clearEntry is an installed clear policy.
type clearEntry struct {
	cp config.ClearPolicy
	ch *child
}

// ClearEntries returns the policies of a pass (dataplane.Bypass) or drop
// (dataplane.Discard) security policy: for each pair of selector
// prefixes, out (local to remote), in and fwd (remote to local), whatever
// the mode, so that the traffic is passed or dropped both ways, sent,
// received and forwarded. Priorities are those of PolicyPriority (the
// configured priority, else the specificity of the selector), the
// interface ids svti-id-in (in, fwd) and svti-id-out (out).
func ClearEntries(cp config.ClearPolicy) ([]dataplane.Policy, error) {
	act := dataplane.Bypass
	if cp.Action == config.ClearDrop {
		act = dataplane.Discard
	}
	var pols []dataplane.Policy
	seen := map[dataplane.PolicyKey]bool{}
	addPol := func(p dataplane.Policy) {
		if !seen[p.Key()] {
			seen[p.Key()] = true
			pols = append(pols, p)
		}
	}
	err := selectorPairs([]ipsec.TrafficSelector{cp.Local.TS()}, []ipsec.TrafficSelector{cp.Remote.TS()}, func(sel, mirror dataplane.Selector) {
		prio := PolicyPriority(sel, cp.Priority)
		addPol(dataplane.Policy{Sel: sel, Dir: dataplane.Out, IfID: cp.IfIDOut, Priority: prio, Action: act})
		addPol(dataplane.Policy{Sel: mirror, Dir: dataplane.In, IfID: cp.IfIDIn, Priority: prio, Action: act})
		addPol(dataplane.Policy{Sel: mirror, Dir: dataplane.Fwd, IfID: cp.IfIDIn, Priority: prio, Action: act})
	})
	if err != nil {
		return nil, err
	}
	if len(pols) == 0 {
		return nil, fmt.Errorf("dataplane: security policy %s: traffic selectors give no policy", cp.Name)
	}
	slices.SortStableFunc(pols, func(x, y dataplane.Policy) int {
		return boolRank(x.Dir == dataplane.Out) - boolRank(y.Dir == dataplane.Out)
	})
	return pols, nil
}

// SetClearPolicies makes the installed pass and drop policies those of
// list (config.Config.Clear): the policies of entries no longer listed,
// or changed, are removed or handed to the next user of their key, new
// ones are added, in one batch. Repeating a list changes nothing. A
// policy whose selectors give no entry is skipped and reported in the
// error; the others are installed.
func (p *Programmer) SetClearPolicies(list []config.ClearPolicy) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clear == nil {
		p.clear = map[clearKey]*clearEntry{}
	}
	want := make(map[clearKey]config.ClearPolicy, len(list))
	for _, cp := range list {
		want[clearKey{cp.VPN, cp.Name}] = cp
	}
	var dels []dataplane.Op
	for k, e := range p.clear {
		if cp, ok := want[k]; ok && reflect.DeepEqual(cp, e.cp) {
			continue
		}
		dels = append(dels, p.unregisterPolicies(e.ch, e.ch.pols)...)
		delete(p.clear, k)
	}
	var adds []dataplane.Op
	var errs []error
	for _, cp := range list {
		k := clearKey{cp.VPN, cp.Name}
		if p.clear[k] != nil {
			continue
		}
		pols, err := ClearEntries(cp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ch := &child{pols: pols}
		for i := range ch.pols {
			if p.policies[ch.pols[i].Key()] == nil {
				adds = append(adds, dataplane.Op{Kind: dataplane.AddPolicy, Policy: &ch.pols[i]})
			}
		}
		p.registerPolicies(ch, ch.pols)
		p.clear[k] = &clearEntry{cp: cp, ch: ch}
	}
	ops := mergeReplaced(adds, dels)
	if len(ops) > 0 {
		if err := p.applyClear(ops); err != nil {
			errs = append(errs, fmt.Errorf("dataplane: pass and drop policies: %w", err))
		} else {
			p.log.Info("pass and drop policies programmed", "policies", len(p.clear), "ops", len(ops))
		}
	}
	return errors.Join(errs...)
}

// applyClear applies ops, taking over a policy that already exists (one
// a previous run left in the kernel: an add becomes an update) and
// skipping the delete of one already gone.
func (p *Programmer) applyClear(ops []dataplane.Op) error {
	for len(ops) > 0 {
		err := p.apply(ops)
		if err == nil {
			return nil
		}
		var ae *dataplane.ApplyError
		if !errors.As(err, &ae) || ae.Index < 0 || ae.Index >= len(ops) {
			return err
		}
		switch op := &ops[ae.Index]; {
		case op.Kind == dataplane.AddPolicy && errors.Is(err, dataplane.ErrExist):
			op.Kind = dataplane.UpdatePolicy
			ops = ops[ae.Index:]
		case op.Kind == dataplane.DeletePolicy && errors.Is(err, dataplane.ErrNotFound):
			ops = ops[ae.Index+1:]
		default:
			return err
		}
	}
	return nil
}

// mergeReplaced orders adds before dels (make before break) and turns a
// delete and an add of the same key (a policy whose action or priority
// changed) into one update.
func mergeReplaced(adds, dels []dataplane.Op) []dataplane.Op {
	added := map[dataplane.PolicyKey]int{}
	for i, op := range adds {
		added[op.Policy.Key()] = i
	}
	var rest []dataplane.Op
	for _, op := range dels {
		if i, ok := added[op.Policy.Key()]; ok && op.Kind == dataplane.DeletePolicy {
			adds[i].Kind = dataplane.UpdatePolicy
			continue
		}
		rest = append(rest, op)
	}
	return append(adds, rest...)
}

// registerPolicies records ch as a user of its policies pols (a clear
// policy: no reqid).
func (p *Programmer) registerPolicies(ch *child, pols []dataplane.Policy) {
	for i := range pols {
		k := pols[i].Key()
		u := p.policies[k]
		if u == nil {
			u = &policyUse{}
			p.policies[k] = u
		}
		u.users = append(u.users, ch)
	}
}
