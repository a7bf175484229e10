package engine

import (
	"net/netip"
	"secgw/internal/ipsec"
	"slices"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// Packet is the packet behind an acquire: outbound traffic that matched a
// trap policy. Its addresses are proposed first in TSi and TSr (RFC 7296
// §2.9). The zero Packet is allowed and means unknown.
type Packet struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
}

// selector is the single-address selector of the packet's source (src)
// or destination, with its protocol and port (any port when zero).
func (p Packet) selector(src bool) ipsec.TrafficSelector {
	a, port := p.Dst, p.DstPort
	if src {
		a, port = p.Src, p.SrcPort
	}
	start, end := port, port
	if port == 0 {
		end = 65535
	}
	return ipsec.SelectorFromPrefix(netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), p.Proto, start, end)
}

// Trap is a trap policy: outbound traffic matching LocalTS -> RemoteTS
// makes the dataplane raise an acquire (an SA is needed and none exists)
// instead of being sent in clear or dropped; the daemon hands the acquire
// to Engine.Acquire. The dataplane should let the policies of an
// established child SA take precedence over the trap and keep the trap
// for when they go.
type Trap struct {
	VPN, Policy       string
	Local, Remote     netip.Addr // the IKE endpoints
	LocalTS, RemoteTS ipsec.TrafficSelector
	Mode              config.Mode
}

// TrapDataplane is implemented by dataplanes that install trap policies
// (start-action, close-action and dpd-action trap). Without it, trap
// actions are logged and do nothing.
type TrapDataplane interface {
	InstallTrap(t Trap) error
	RemoveTrap(t Trap) error
}

// installTrap installs the trap of a security policy once; it takes
// e.pmu (a leaf lock).
func (e *Engine) installTrap(v *config.VPN, pol config.SecurityPolicy) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if _, ok := e.traps[pol.Name]; ok {
		return
	}
	td, ok := e.o.Dataplane.(TrapDataplane)
	if !ok {
		if !e.warnedNoTraps { // once: 10k VPNs would say it 10k times
			e.warnedNoTraps = true
			e.log.Warn("the dataplane cannot install trap policies: start-, close- and dpd-action trap do nothing",
				"vpn", v.Name, "policy", pol.Name)
		}
		return
	}
	local := v.LocalAddr
	if !local.IsValid() {
		local = e.o.LocalAddr
	}
	t := Trap{VPN: v.Name, Policy: pol.Name, Local: local, Remote: v.RemoteAddr, LocalTS: pol.Local.TS(), RemoteTS: pol.Remote.TS(), Mode: pol.Mode}
	if err := td.InstallTrap(t); err != nil {
		e.log.Warn("installing trap policy failed", "vpn", v.Name, "policy", pol.Name, "err", err)
		return
	}
	e.traps[pol.Name] = t
	e.trapsOf[v.Name] = append(e.trapsOf[v.Name], pol.Name)
	e.log.Info("trap policy installed", "vpn", v.Name, "policy", pol.Name)
}

// removeTraps removes the traps of a VPN (removed or changed by a commit).
func (e *Engine) removeTraps(vpn string) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	td, _ := e.o.Dataplane.(TrapDataplane)
	names := e.trapsOf[vpn]
	delete(e.trapsOf, vpn)
	for _, name := range names {
		t, ok := e.traps[name]
		if !ok || t.VPN != vpn {
			continue
		}
		if td != nil {
			if err := td.RemoveTrap(t); err != nil {
				e.log.Warn("removing trap policy failed", "vpn", vpn, "policy", name, "err", err)
			}
		}
		delete(e.traps, name)
	}
}

// Traps lists the installed trap policies, by policy name.
func (e *Engine) Traps() []Trap {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	out := make([]Trap, 0, len(e.traps))
	for _, t := range e.traps {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Trap) int {
		if a.Policy < b.Policy {
			return -1
		}
		if a.Policy > b.Policy {
			return 1
		}
		return 0
	})
	return out
}

// Acquire starts the child SA of a trap policy because the dataplane saw
// traffic for it (an acquire). policy names the security policy; empty,
// the trap whose selectors hold pkt is used. The negotiation reuses an
// IKE SA of the VPN when one is up. Further acquires for the policy are
// ignored while its negotiation runs, for at most acquire-timeout (the
// lifetime of the dataplane's temporary acquire SA in the vsr guide), so
// that a burst of packets starts one negotiation.
func (e *Engine) Acquire(policy string, pkt Packet) error {
	if policy == "" {
		e.pmu.Lock()
		policy = e.trapFor(pkt)
		e.pmu.Unlock()
	}
	cfg := e.config()
	v, pol := cfg.PolicyVPN(policy)
	if v == nil {
		return ErrUnknownPolicy
	}
	if e.standby() {
		return ErrStandby // HA: the active node negotiates (ha.go)
	}
	var hint *Packet
	if pkt.Src.IsValid() && pkt.Dst.IsValid() {
		hint = &pkt
	}
	var err error
	e.onVPN(v, func(ws []*worker) {
		if e.liveChild(ws, policy) {
			return
		}
		now := e.now()
		e.pmu.Lock()
		until, busy := e.acquires[policy]
		busy = busy && now.Before(until)
		if !busy {
			e.acquires[policy] = now.Add(cfg.Global.AcquireTimeout)
		}
		e.pmu.Unlock()
		if busy {
			return // a negotiation for this policy is under way
		}
		e.log.Info("acquire: negotiating", "vpn", v.Name, "policy", policy)
		_, err = e.initiateChild(ws, v, *pol, hint)
	})
	return err
}

// onVPN runs f with the workers that may hold IKE SAs of v locked: the
// worker of its remote-address for a VPN that initiates (every IKE SA of
// such a VPN has that peer: we initiate to it, and accept it only from
// it), every worker for a responder-only VPN.
func (e *Engine) onVPN(v *config.VPN, f func(ws []*worker)) {
	if v.Initiator() {
		w := e.lockPeer(v.RemoteAddr)
		defer w.unlock()
		f([]*worker{w})
		return
	}
	s := e.lockAll()
	defer s.unlockAll()
	f(s.workers)
}

// trapFor returns the policy of the installed trap whose selectors hold
// the packet, or ""; e.pmu is held.
func (e *Engine) trapFor(pkt Packet) string {
	for name, t := range e.traps {
		if covers(t.LocalTS, pkt.selector(true)) && covers(t.RemoteTS, pkt.selector(false)) {
			return name
		}
	}
	return ""
}

func covers(outer, inner ipsec.TrafficSelector) bool {
	return outer.Type == inner.Type && !inner.StartAddr.Less(outer.StartAddr) && !outer.EndAddr.Less(inner.EndAddr) &&
		(outer.IPProtocol == 0 || outer.IPProtocol == inner.IPProtocol) &&
		outer.StartPort <= inner.StartPort && inner.EndPort <= outer.EndPort
}

// liveChild reports whether some IKE SA of the workers ws (locked) has a
// live child SA of the policy.
func (e *Engine) liveChild(ws []*worker, policy string) bool {
	for _, w := range ws {
		if !w.each(func(sa *ikeSA) bool { return !sa.hasChild(policy) }) {
			return true
		}
	}
	return false
}

// childUp reports a new child SA (not a rekey) and ends the acquire of its
// policy.
func (e *Engine) childUp(sa *ikeSA, c *childSA) {
	e.endAcquire(c.Policy)
	e.emit(Event{Kind: ChildUp, SA: sa.uid, Child: c.UniqueID, VPN: sa.vpnName(), Policy: c.Policy})
}

func (e *Engine) endAcquire(policy string) {
	e.pmu.Lock()
	delete(e.acquires, policy)
	e.pmu.Unlock()
}

// childFailed reports a child SA that was not set up on an IKE SA that
// stays (ChildFailed) and ends the acquire of its policy, so that the
// next acquire tries again. why is empty when the IKE SA itself went.
func (e *Engine) childFailed(sa *ikeSA, policy, why string) {
	e.endAcquire(policy)
	if why != "" && sa.vpn != nil {
		e.emit(Event{Kind: ChildFailed, SA: sa.uid, VPN: sa.vpn.Name, Policy: policy, Reason: why})
	}
}

// failureReason is the reason of a child SA failure for ChildFailed: the
// notify of the peer, or ours.
func failureReason(n wire.NotifyType) string {
	if n == 0 {
		return "unacceptable answer"
	}
	return n.String()
}

// startIKE starts an IKE SA for v from local to remote (port 4500 with
// the Non-ESP Marker from the start when natt) with child SAs for the
// policies; none makes a childless IKE SA (RFC 6023). w is the worker of
// remote's address, locked.
func (e *Engine) startIKE(w *worker, v *config.VPN, local, remote netip.AddrPort, natt bool, policies []config.SecurityPolicy, hint *Packet) *ikeSA {
	return e.startIKEVia(w, v, local, remote, natt, policies, hint, startVia{tcp: v.Transport == config.TransportTCP})
}

// startVia says how a new IKE SA starts: over TCP (RFC 9329: the SA then
// speaks as on port 4500 from the start, tcp.go), and following a
// redirect from the gateway from (REDIRECTED_FROM, redirect.go; zero:
// none).
type startVia struct {
	tcp  bool
	from wire.Gateway
}

// startIKEVia is startIKE with the ways of via.
func (e *Engine) startIKEVia(w *worker, v *config.VPN, local, remote netip.AddrPort, natt bool, policies []config.SecurityPolicy, hint *Packet, via startVia) *ikeSA {
	sa := e.newSA(w, true, v)
	sa.handshake = &handshake{}
	sa.spii = sa.id
	if via.tcp {
		local, remote, natt = netip.AddrPortFrom(local.Addr(), PortNATT), netip.AddrPortFrom(remote.Addr(), PortNATT), true
	}
	sa.local, sa.remote, sa.natt, sa.tcp = local, remote, natt, via.tcp
	sa.redirectedFrom = via.from
	sa.queue(&initTask{})
	sa.queue(&authTask{policies: policies, hint: hint})
	sa.startNext()
	return sa
}

// endpoints are the addresses a new IKE SA of v starts from and to.
func (e *Engine) endpoints(v *config.VPN) (local, remote netip.AddrPort) {
	l := v.LocalAddr
	if !l.IsValid() {
		l = e.o.LocalAddr
	}
	return netip.AddrPortFrom(l, PortIKE), netip.AddrPortFrom(v.RemoteAddr, PortIKE)
}

// initiateChild sets up a child SA of pol: on an IKE SA of v that is up
// or being set up by us, else on a new one. ws are the workers that may
// hold IKE SAs of v, locked (see onVPN). It returns the IKE SA's
// unique-id.
func (e *Engine) initiateChild(ws []*worker, v *config.VPN, pol config.SecurityPolicy, hint *Packet) (uint32, error) {
	var best *ikeSA
	for _, w := range ws {
		w.each(func(sa *ikeSA) bool {
			if sa.vpn == nil || sa.vpn.Name != v.Name || sa.closing || sa.successor != nil || sa.state == stateDeleted {
				return true
			}
			if sa.state != stateEstablished && !sa.initiator {
				return true // a responder still authenticating: not ours to use
			}
			if best == nil || better(sa, best) {
				best = sa
			}
			return true
		})
	}
	if best != nil {
		if !best.plansChild(pol.Name) {
			best.queue(&childCreateTask{policy: pol, hint: hint})
			best.startNext()
		}
		return best.uid, nil
	}
	if !v.Initiator() {
		return 0, ErrUnknownVPN
	}
	local, remote := e.endpoints(v)
	return e.startIKE(ws[0], v, local, remote, false, []config.SecurityPolicy{pol}, hint).uid, nil
}

// better prefers an established IKE SA to one being set up, then the
// newest.
func better(a, b *ikeSA) bool {
	if ae, be := a.state == stateEstablished, b.state == stateEstablished; ae != be {
		return ae
	}
	return a.uid > b.uid
}

// policiesOf lists the security policies of the live child SAs of sa,
// once each, in the VPN's order; those no longer configured are left out.
func (sa *ikeSA) policiesOf() []config.SecurityPolicy {
	var out []config.SecurityPolicy
	for _, p := range sa.vpn.Policies {
		for _, c := range sa.children {
			if c.Policy == p.Name && !c.replaced {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// startActions applies start-action to a VPN a commit added or changed:
// trap installs its trap policies, start negotiates its child SAs (one
// IKE SA with all of them) at once or, when many start together, at
// initiate-rate's pace (pacer.go). A VPN without remote-address only
// responds: start-action does not apply to it. It locks the worker of
// the VPN's peer; no worker lock is held by the caller.
func (e *Engine) startActions(v *config.VPN) {
	if !v.Initiator() {
		return
	}
	switch v.StartAction {
	case config.ActionTrap:
		for _, p := range v.Policies {
			e.installTrap(v, p)
		}
	case config.ActionStart:
		if e.standby() {
			return // HA: applied at the takeover (SetRole)
		}
		local, remote := e.endpoints(v)
		e.pace(nil, remote.Addr(), func(w *worker) {
			// The VPN as configured when its turn comes: a later commit
			// may have removed it or changed its start-action.
			if cur := e.config().VPN(v.Name); cur == nil || cur.StartAction != config.ActionStart || !cur.Initiator() {
				return
			}
			e.log.Info("start-action start: initiating", "vpn", v.Name)
			e.startIKE(w, v, local, remote, false, v.Policies, nil)
		})
	}
}

// closeAction applies close-action after the peer closed a child SA of
// the policy (RFC 7296 §1.4.1 delete, its own or of its IKE SA): start
// negotiates it again (at initiate-rate's pace), trap installs its trap
// policy. Nothing happens
// while another child SA of the policy lives (a rekey or a
// reauthentication replaced it). cur is the worker whose lock is held;
// the work runs on the worker of the VPN's remote-address.
func (e *Engine) closeAction(cur *worker, v *config.VPN, policy string) {
	if v == nil {
		return
	}
	v = e.config().VPN(v.Name)
	if v == nil || !v.Initiator() || (v.CloseAction != config.ActionStart && v.CloseAction != config.ActionTrap) {
		return // a responder-only VPN neither starts nor traps
	}
	pol := v.Policy(policy)
	if pol == nil {
		return
	}
	if v.CloseAction == config.ActionStart {
		e.pace(cur, v.RemoteAddr, func(w *worker) {
			ws := []*worker{w}
			if e.liveChild(ws, policy) {
				return
			}
			e.log.Info("close-action start: negotiating again", "vpn", v.Name, "policy", policy)
			e.initiateChild(ws, v, *pol, nil)
		})
		return
	}
	e.onPeer(cur, v.RemoteAddr, func(w *worker) {
		if !e.liveChild([]*worker{w}, policy) {
			e.installTrap(v, *pol)
		}
	})
}

// dpdAction applies dpd-action to the child SAs of an IKE SA whose peer
// stopped answering (the vsr guide: clear closes them, restart
// negotiates them again under a fresh IKE SA at once, trap installs trap
// policies that renegotiate on demand). sa.w's lock is held.
func (e *Engine) dpdAction(sa *ikeSA, policies []config.SecurityPolicy) {
	v := e.config().VPN(sa.vpn.Name)
	if v == nil || len(policies) == 0 {
		return
	}
	switch v.DPDAction {
	case config.ActionStart:
		local, remote := e.endpoints(v)
		natt := false
		if !v.Initiator() {
			// A responder-only VPN: back to where the peer was.
			local, remote, natt = sa.local, sa.remote, sa.natt
		}
		sa.log().Info("dpd-action restart: negotiating a new IKE SA")
		e.pace(sa.w, remote.Addr(), func(w *worker) { e.startIKE(w, v, local, remote, natt, policies, nil) })
	case config.ActionTrap:
		if !v.Initiator() {
			return
		}
		sa.log().Info("dpd-action trap: installing trap policies")
		for _, p := range policies {
			e.installTrap(v, p)
		}
	default:
		sa.log().Info("dpd-action clear: child SAs closed")
	}
}
