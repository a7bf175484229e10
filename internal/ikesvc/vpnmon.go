package ikesvc

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/vpnmon"
)

// VPN monitor (security-policy vpn-monitor, Juniper's vpn-monitor): the
// service finds the installed child SAs of the security policies that
// configure it, hands them to a vpnmon.Monitor, drives it every second
// and runs the action on a child SA found down: restart deletes it and
// negotiates a new one. The state's child-sa vpn-monitor leaf and the
// vpn-monitor-down / vpn-monitor-up sa-events say what it sees.

// monitorPolicy is the vpn-monitor of one security policy.
type monitorPolicy struct {
	cfg vpnmon.Config
	// vpn is the VPN of the security policy.
	vpn string
	// down: action down, the routes of a child SA found down are
	// withdrawn (Options.OnMonitorRoutes) rather than the child SA
	// restarted.
	down bool
	// verify: verify-path, a new child SA's routes wait for its first
	// answered echo (verifypath.go).
	verify bool
}

// vpnMonitor is the service's VPN monitor; nil without Options.NewProber.
type vpnMonitor struct {
	s *Service
	m *vpnmon.Monitor

	mu       sync.Mutex
	policies map[string]monitorPolicy      // by security policy name
	children map[vpnmon.Key]engine.ChildSA // the monitored child SAs
	// withdrawn are the child SAs whose routes action down withdrew.
	withdrawn map[vpnmon.Key]bool
	// noDst are the child SAs of a policy without destination-ip whose
	// remote selector is not one address: not monitored (logged once).
	noDst map[vpnmon.Key]bool
	// unverified are the child SAs whose routes wait for datapath
	// verification (verifypath.go), with the child SA as installed.
	unverified map[vpnmon.Key]engine.ChildSA
}

// monitorTick is how often the monitor looks for child SAs and runs the
// intervals that ended: the intervals are whole seconds.
const monitorTick = time.Second

// newVPNMonitor starts the monitor with the prober newProber makes.
func (s *Service) newVPNMonitor(ctx context.Context, newProber func(reply func(id, seq uint16)) vpnmon.Prober) *vpnMonitor {
	v := &vpnMonitor{s: s, policies: map[string]monitorPolicy{}, children: map[vpnmon.Key]engine.ChildSA{},
		withdrawn: map[vpnmon.Key]bool{}, unverified: map[vpnmon.Key]engine.ChildSA{}}
	var m *vpnmon.Monitor
	p := newProber(func(id, seq uint16) { m.Reply(id, seq) })
	m = vpnmon.New(p, vpnmon.Hooks{LastInbound: v.lastInbound, Down: v.down, Up: v.up})
	v.m = m
	go v.run(ctx)
	return v
}

// monitorPolicies returns the vpn-monitor of every security policy of
// ike once the commit r (from the configuration prev) applies: a full
// resolve reads every VPN; otherwise only the VPNs r names are read again
// and the rest is the running map's (a commit of one VPN reads one VPN).
// It refuses what this service cannot run.
func (s *Service) monitorPolicies(ike *generated.SecgwVrf_Vrf_Ike, prev *config.Config, r resolve.Result) (map[string]monitorPolicy, error) {
	if ike == nil {
		return map[string]monitorPolicy{}, nil
	}
	if r.Full || prev == nil {
		out := map[string]monitorPolicy{}
		for vname, vpn := range ike.Vpn {
			s.work.monitorRead.Add(1)
			if err := s.vpnMonitors(out, vname, vpn); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	cur := s.mon.current()
	out, cloned := cur, false
	own := func() {
		if !cloned {
			out, cloned = maps.Clone(cur), true
			if out == nil {
				out = map[string]monitorPolicy{}
			}
		}
	}
	for _, n := range r.Names {
		if pv := prev.VPN(n); pv != nil {
			for i := range pv.Policies {
				if _, ok := out[pv.Policies[i].Name]; ok {
					own()
					delete(out, pv.Policies[i].Name)
				}
			}
		}
		vpn := ike.Vpn[n]
		if vpn == nil {
			continue
		}
		s.work.monitorRead.Add(1)
		for _, sp := range vpn.SecurityPolicy {
			if sp.VpnMonitor != nil {
				own()
				break
			}
		}
		if err := s.vpnMonitors(out, n, vpn); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = map[string]monitorPolicy{}
	}
	return out, nil
}

// vpnMonitors adds the vpn-monitor of the security policies of VPN vname
// to out (which the caller owns whenever one of them has one).
func (s *Service) vpnMonitors(out map[string]monitorPolicy, vname string, vpn *generated.SecgwVrf_Vrf_Ike_Vpn) error {
	for pname, sp := range vpn.SecurityPolicy {
		vm := sp.VpnMonitor
		if vm == nil {
			continue
		}
		where := fmt.Sprintf("ike: vpn %s security-policy %s vpn-monitor", vname, pname)
		if s.o.NewProber == nil {
			return unsupported(where + ": this secgwd has no ICMP prober")
		}
		down := vm.GetAction() == generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_VpnMonitor_Action_down
		if down && s.o.OnMonitorRoutes == nil {
			return unsupported(where + " action down: this secgwd has no routes to withdraw")
		}
		verify := vm.GetVerifyPath()
		if verify && s.o.OnMonitorRoutes == nil {
			return unsupported(where + " verify-path: this secgwd has no routes to withhold")
		}
		src, err1 := netip.ParseAddr(vm.GetSourceAddress())
		// destination-ip unset: the peer's inner address, the child
		// SA's remote selector when that is one address (peerInner).
		var dst netip.Addr
		var err2 error
		if vm.DestinationIp != nil {
			dst, err2 = netip.ParseAddr(*vm.DestinationIp)
		}
		if err1 != nil || err2 != nil || dst.IsValid() && src.Is4() != dst.Is4() {
			return invalid("vpn-monitor", where+": source-address and destination-ip must be addresses of one family")
		}
		// Linux sends an IPv4 echo bound to a device with no route
		// there as if the destination were on the link; an IPv6 one
		// it refuses (network unreachable). So IPv6 echoes go by the
		// routes, which verify-path withholds on the TUN device.
		dev := s.o.ProbeDevice
		if !src.Unmap().Is4() {
			dev = ""
			if verify && s.o.ProbeDevice != "" {
				return unsupported(where + " verify-path: IPv6 echoes cannot reach the userspace dataplane's TUN device before its routes are installed")
			}
		}
		out[pname] = monitorPolicy{cfg: vpnmon.Config{Src: src.Unmap(), Dst: dst.Unmap(),
			Interval:  time.Duration(vm.GetInterval()) * time.Second,
			Threshold: int(vm.GetThreshold()), Optimized: vm.GetOptimized(), Dev: dev, Verify: verify},
			vpn: vname, down: down, verify: verify}
	}
	return nil
}

// current returns the monitored policies (read only: a commit clones
// before it changes them); nil without a monitor.
func (v *vpnMonitor) current() map[string]monitorPolicy {
	if v == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.policies
}

// set replaces the monitored policies (Apply, Abort).
func (v *vpnMonitor) set(p map[string]monitorPolicy) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.policies = p
}

// run syncs and ticks the monitor every monitorTick until ctx ends.
func (v *vpnMonitor) run(ctx context.Context) {
	t := time.NewTicker(monitorTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if c, ok := v.m.Prober().(interface{ Close() error }); ok {
				c.Close()
			}
			return
		case now := <-t.C:
			v.sync(now)
			v.m.Tick(now)
		}
	}
}

// sync makes the monitored child SAs the installed ones of the
// monitored policies. It reads the engine's state only while a policy
// has vpn-monitor: it costs nothing otherwise.
func (v *vpnMonitor) sync(now time.Time) {
	v.mu.Lock()
	policies := v.policies
	v.mu.Unlock()
	seen := map[vpnmon.Key]engine.ChildSA{}
	noDst := map[vpnmon.Key]bool{}
	if len(policies) > 0 {
		// Only the SAs of the VPNs whose policies are monitored are
		// read (the engine's index of SAs by VPN), not every SA.
		var vpns []string
		named := map[string]bool{}
		for _, p := range policies {
			if !named[p.vpn] {
				named[p.vpn] = true
				vpns = append(vpns, p.vpn)
			}
		}
		for _, c := range v.s.eng.InstalledChildren(vpns) {
			p, ok := policies[c.Policy]
			if !ok {
				continue
			}
			k := vpnmon.Key(c.UniqueID)
			cfg := p.cfg
			if !cfg.Dst.IsValid() {
				dst, ok := peerInner(c.ChildSA, cfg.Src)
				if !ok {
					noDst[k] = true
					if !v.noDst[k] {
						v.s.log.Warn("VPN monitor: no destination-ip and the child SA's remote selector is not one address: not monitored",
							"vpn", c.VPN, "policy", c.Policy, "unique-id", c.UniqueID)
					}
					continue
				}
				cfg.Dst = dst
			}
			seen[k] = c.ChildSA
			v.m.Set(k, cfg, now)
		}
	}
	v.mu.Lock()
	v.children, v.noDst = seen, noDst
	for k := range v.withdrawn {
		if _, ok := seen[k]; !ok {
			delete(v.withdrawn, k) // gone: its routes went with it
		}
	}
	release := v.unverifiedWithout(policies) // verifypath.go
	v.mu.Unlock()
	for _, c := range release {
		v.verified(c, "verify-path no longer configured: routes installed")
	}
	for _, k := range v.m.Keys() {
		if _, ok := seen[k]; !ok {
			v.m.Remove(k)
		}
	}
}

// child returns the monitored child SA k.
func (v *vpnMonitor) child(k vpnmon.Key) (engine.ChildSA, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.children[k]
	return c, ok
}

// lastInbound is when child SA k last received traffic (optimized).
func (v *vpnMonitor) lastInbound(k vpnmon.Key) time.Time {
	c, ok := v.child(k)
	if !ok || v.s.o.Activity == nil {
		return time.Time{}
	}
	in, _ := v.s.o.Activity(c)
	return in
}

// down runs the action on a child SA found down: restart deletes it
// with the peer and negotiates a new one for its policy; down withdraws
// its routes (inject-routes, install-routes) until it answers again, so
// that the traffic takes another path.
func (v *vpnMonitor) down(k vpnmon.Key, st vpnmon.Status) {
	c, ok := v.child(k)
	if !ok {
		return
	}
	if v.verifyFailed(k, c, st) { // verifypath.go
		return
	}
	v.mu.Lock()
	p := v.policies[c.Policy]
	if p.down {
		v.withdrawn[k] = true
	}
	v.mu.Unlock()
	if p.down {
		v.s.log.Warn("VPN monitor: child SA down", "vpn", c.VPN, "policy", c.Policy, "unique-id", c.UniqueID, "failures", st.Failures, "action", "down")
		v.event("vpn-monitor-down", c, fmt.Sprintf("%d echoes to the monitored destination unanswered: routes withdrawn", st.Failures))
		v.s.o.OnMonitorRoutes(c, false)
		return
	}
	reason := fmt.Sprintf("%d echoes to the monitored destination unanswered: child SA restarted", st.Failures)
	v.s.log.Warn("VPN monitor: child SA down", "vpn", c.VPN, "policy", c.Policy, "unique-id", c.UniqueID, "failures", st.Failures, "action", "restart")
	v.event("vpn-monitor-down", c, reason)
	if err := v.s.eng.DeleteChildByUID(c.UniqueID); err != nil {
		v.s.log.Warn("VPN monitor: cannot delete the child SA", "unique-id", c.UniqueID, "err", err)
	}
	if _, err := v.s.eng.InitiateChild(c.Policy); err != nil {
		v.s.log.Warn("VPN monitor: cannot negotiate a new child SA", "policy", c.Policy, "err", err)
	}
}

// up reports a child SA that answered (its first echo, or after down).
func (v *vpnMonitor) up(k vpnmon.Key) {
	if c, ok := v.takeUnverified(k); ok { // verifypath.go
		v.verified(c, "datapath verified: routes installed")
		return
	}
	v.mu.Lock()
	restore := v.withdrawn[k]
	delete(v.withdrawn, k)
	v.mu.Unlock()
	if c, ok := v.child(k); ok {
		if restore {
			v.s.o.OnMonitorRoutes(c, true) // action down: the routes come back
		}
		v.s.log.Info("VPN monitor: child SA up", "vpn", c.VPN, "policy", c.Policy, "unique-id", c.UniqueID)
		v.event("vpn-monitor-up", c, "")
	}
}

// event sends an sa-event through Options.OnSAEvent.
func (v *vpnMonitor) event(kind string, c engine.ChildSA, reason string) {
	f := v.s.o.OnSAEvent
	if f == nil {
		return
	}
	policy, child := c.Policy, c.UniqueID
	e := SAEvent{VRF: v.s.o.VRF, Event: kind, VPN: c.VPN, Policy: &policy, ChildUniqueID: &child}
	if reason != "" {
		e.Reason = &reason
	}
	f(e)
}

// monitorState is the vpn-monitor leaf of child SA uid, 0 (absent) when
// it is not monitored.
func (v *vpnMonitor) monitorState(uid uint32) generated.E_SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor {
	if v == nil {
		return 0
	}
	st, ok := v.m.Status(vpnmon.Key(uid))
	if !ok {
		return 0
	}
	switch st.State {
	case vpnmon.Verifying:
		if v.withheld(uid) {
			return generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_verifying_path
		}
	case vpnmon.Up:
		return generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up
	case vpnmon.Down:
		return generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_down
	}
	return generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_verifying
}

// peerInner is the peer's inner address of child SA c, the destination
// of a vpn-monitor without destination-ip: its remote traffic selector
// when that is a single address of src's family (a road warrior's
// virtual IP, a host-to-host tunnel).
func peerInner(c engine.ChildSA, src netip.Addr) (netip.Addr, bool) {
	if len(c.RemoteTS) != 1 {
		return netip.Addr{}, false
	}
	ts := c.RemoteTS[0]
	a := ts.StartAddr.Unmap()
	if !a.IsValid() || a != ts.EndAddr.Unmap() || a.Is4() != src.Unmap().Is4() {
		return netip.Addr{}, false
	}
	return a, true
}
