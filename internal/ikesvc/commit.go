package ikesvc

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"

	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/schema"
)

// A commit costs what it changes: Prepare resolves the VPNs the commit
// touches (resolve.Update), checks and completes those only, and keeps
// the local addresses to bind as counts that the changed VPNs update;
// Apply hands the engine the names of the changed VPNs, and the
// dataplane the pass and drop policies only when they changed.

// ChangesOf says what tx changed in the ike container of vrf main, for
// resolve.Update and resolve.UpdateRoutes; a transaction without its
// changes (the start, a test's) changed everything.
func ChangesOf(tx *datastore.Tx) resolve.Changes { return ChangesOfVRF(VRF, tx) }

// ChangesOfVRF is ChangesOf for the ike container of vrf: a commit that
// changed only another vrf's changes nothing here.
func ChangesOfVRF(vrf string, tx *datastore.Tx) resolve.Changes {
	if tx.Changes == nil {
		return resolve.Changes{All: true}
	}
	paths := make([]schema.DataPath, len(tx.Changes))
	for i, c := range tx.Changes {
		paths[i] = c.Path
	}
	return resolve.ChangesOf(vrf, paths)
}

// supported refuses what the dataplane cannot do: svti-id-in and
// svti-id-out without XFRM interfaces, pass and drop policies without a
// dataplane that installs them. Either would leave traffic unprotected
// or in the wrong place while the configuration says otherwise. fresh
// are the VPNs of cfg this commit resolved: the others passed before.
func (s *Service) supported(cfg *config.Config, fresh []*config.VPN) error {
	if s.o.NoIfID {
		for _, v := range fresh {
			for _, p := range v.Policies {
				if p.IfIDIn != 0 || p.IfIDOut != 0 {
					return unsupported(fmt.Sprintf(
						"ike: vpn %s security-policy %s: svti-id-in and svti-id-out need the kernel dataplane (XFRM interfaces); the %s dataplane cannot honour them",
						v.Name, p.Name, s.o.DataplaneKind))
				}
			}
		}
		for _, v := range fresh {
			for _, c := range cfg.ClearOf(v.Name) {
				if c.IfIDIn != 0 || c.IfIDOut != 0 {
					return unsupported(fmt.Sprintf(
						"ike: vpn %s security-policy %s: svti-id-in and svti-id-out need the kernel dataplane (XFRM interfaces); the %s dataplane cannot honour them",
						c.VPN, c.Name, s.o.DataplaneKind))
				}
			}
		}
	}
	if cfg.Global.RespondBadSPI > 0 && s.o.DataplaneKind == "kernel" && !s.o.KernelBadSPI {
		// XFRM drops ESP with an unknown SPI and only counts it: without
		// the daemon's sampling (Options.KernelBadSPI) nothing reports
		// it (dataplane.UnknownSPI).
		return unsupported("ike: global-options respond-bad-spi needs the userspace dataplane, or the kernel one with secgwd's unknown-SPI sampling (vrf main): nothing reports ESP with an unknown SPI here")
	}
	if _, ok := s.o.Dataplane.(ClearDataplane); !ok && len(cfg.Clear) > 0 {
		c := cfg.Clear[0]
		return unsupported(fmt.Sprintf(
			"ike: vpn %s security-policy %s: action %s is not supported by this dataplane", c.VPN, c.Name, c.Action))
	}
	return nil
}

// setEngine hands cfg to the engine: all of it after a full resolution,
// else with the names of the VPNs the commit changed.
func (s *Service) setEngine(p *prepared, cfg *config.Config) []string {
	if p.full {
		return s.eng.SetConfig(cfg)
	}
	return s.eng.ApplyConfig(cfg, p.names)
}

// setClear installs the pass and drop policies of cfg, unless they are
// those of old (config.Config.Apply keeps the same list when a commit
// changes none).
func (s *Service) setClear(old, cfg *config.Config) error {
	cd, ok := s.o.Dataplane.(ClearDataplane)
	if !ok {
		return nil
	}
	if old != nil && len(old.Clear) == len(cfg.Clear) && (len(cfg.Clear) == 0 || &old.Clear[0] == &cfg.Clear[0]) {
		return nil
	}
	if err := cd.SetClearPolicies(cfg.Clear); err != nil {
		return fmt.Errorf("ike: %w", err)
	}
	return nil
}

// localAddrs counts the VPNs of each local-address, and those without
// one: the addresses the sockets must be bound to, kept up to date by the
// VPNs a commit changes. A value is never modified once a configuration
// uses it: clone, then update.
type localAddrs struct {
	n    map[netip.Addr]int
	none int
}

func countLocals(vpns []*config.VPN) localAddrs {
	l := localAddrs{n: map[netip.Addr]int{}}
	for _, v := range vpns {
		l.add(v, 1)
	}
	return l
}

func (l localAddrs) clone() localAddrs { return localAddrs{n: maps.Clone(l.n), none: l.none} }

// add counts v (nil: nothing) d times.
func (l *localAddrs) add(v *config.VPN, d int) {
	if v == nil {
		return
	}
	if !v.LocalAddr.IsValid() {
		l.none += d
		return
	}
	if l.n == nil {
		l.n = map[netip.Addr]int{}
	}
	a := v.LocalAddr.Unmap()
	if l.n[a] += d; l.n[a] <= 0 {
		delete(l.n, a)
	}
}

// want are the local addresses the sockets must be bound to: every VPN's
// local-address, plus the host's addresses when a VPN has none, sorted.
func (l localAddrs) want(host func() []netip.Addr) []netip.Addr {
	set := map[netip.Addr]bool{}
	for a := range l.n {
		set[a] = true
	}
	if l.none > 0 {
		for _, a := range host() {
			set[a.Unmap()] = true
		}
	}
	out := make([]netip.Addr, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// CommitWork counts what the commits applied to a Service did, since it
// was created: their cost must follow the size of each change, not that
// of the configuration.
type CommitWork struct {
	// VPNsResolved are the VPNs resolved from the YANG configuration.
	VPNsResolved uint64
	// MonitorVPNsRead are the VPNs whose vpn-monitor was read.
	MonitorVPNsRead uint64
	// The engine's share (SAs visited, VPNs compared).
	engine.UpdateWork
}

type commitWork struct{ resolved, monitorRead atomic.Uint64 }

// CommitWork returns the counts of the commits so far.
func (s *Service) CommitWork() CommitWork {
	return CommitWork{VPNsResolved: s.work.resolved.Load(), MonitorVPNsRead: s.work.monitorRead.Load(), UpdateWork: s.eng.UpdateWork()}
}
