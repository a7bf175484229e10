package ikesvc

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/pool"
)

// Virtual IP pools (ike pool and ha pool) and the engine's VIPs interface
// over them (RFC 7296 §2.19). The Service resolves the pools at each
// commit and hands them to the pool.Manager the daemon opened on the
// data directory; the engine asks it for addresses through vipAdapter.

// VIPHost puts the virtual IPs an initiator receives on the host and
// takes them away (the daemon's, over netlink). dev is global-options
// install-vip-on, or "" for the interface that holds local, the IKE SA's
// local address. Calls come from the engine's workers, several at once.
type VIPHost interface {
	AddVIP(dev string, local, vip netip.Addr) error
	RemoveVIP(dev string, local, vip netip.Addr)
}

// resolvePools turns the ike pool and ha pool lists into pool
// configurations, sorted by name, refusing what cannot be served.
func resolvePools(ike *generated.SecgwVrf_Vrf_Ike) ([]pool.Config, error) {
	var out []pool.Config
	add := func(name string, ha bool, addrs, dns, nbns, dhcp, subnet, netmask []string) error {
		c := pool.Config{Name: name, HA: ha}
		where := "ike pool " + name
		if ha {
			where = "ike ha pool " + name
		}
		for _, a := range addrs {
			r, err := pool.ParseAddress(a)
			if err != nil {
				return fmt.Errorf("%s address: %w", where, err)
			}
			c.Ranges = append(c.Ranges, r)
		}
		for _, l := range []struct {
			name string
			in   []string
			out  *[]netip.Addr
			v6   bool // an IPv6 value has an attribute (RFC 7296 §3.15.1)
		}{{"dns", dns, &c.DNS, true}, {"nbns", nbns, &c.NBNS, false}, {"dhcp", dhcp, &c.DHCP, true}, {"netmask", netmask, &c.Netmasks, false}} {
			for _, s := range l.in {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return fmt.Errorf("%s %s: %w", where, l.name, err)
				}
				if a.Is6() && !l.v6 {
					// RFC 7296 removed INTERNAL_IP6_NBNS and
					// INTERNAL_IP6_NETMASK (types 11 and 9 of RFC
					// 4306): refused rather than never sent.
					return unsupported(fmt.Sprintf("%s %s %s: RFC 7296 has no IPv6 %s attribute", where, l.name, s, l.name))
				}
				*l.out = append(*l.out, a)
			}
		}
		for _, s := range subnet {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("%s subnet: %w", where, err)
			}
			c.Subnets = append(c.Subnets, p.Masked())
		}
		out = append(out, c)
		return nil
	}
	for _, name := range sortedNames(ike.Pool) {
		p := ike.Pool[name]
		if err := add(name, false, p.Address, p.Dns, p.Nbns, p.Dhcp, p.Subnet, p.Netmask); err != nil {
			return nil, err
		}
	}
	if ike.Ha != nil {
		for _, name := range sortedNames(ike.Ha.Pool) {
			p := ike.Ha.Pool[name]
			if err := add(name, true, p.Address, p.Dns, p.Nbns, p.Dhcp, p.Subnet, p.Netmask); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, func(a, b pool.Config) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkVIPPools refuses VPNs whose vip-pool names no pool: a road warrior
// would get INTERNAL_ADDRESS_FAILURE from a configuration that looked
// fine.
func checkVIPPools(vpns []*config.VPN, pools []pool.Config) error {
	for _, v := range vpns {
		for _, n := range v.VIPPools() {
			if n == engine.RADIUSPool {
				// Not a pool of the model: the SA's own, from the
				// RADIUS attributes of its Access-Accept (eap_vip.go).
				if v.RemoteAAA == config.AAANone {
					return fmt.Errorf("ike: vpn %s vip-pool radius: needs remote-auth-method eap-radius or pre-shared-key-radius (the addresses come from the RADIUS server's Access-Accept)", v.Name)
				}
				continue
			}
			if !slices.ContainsFunc(pools, func(c pool.Config) bool { return c.Name == n }) {
				return fmt.Errorf("ike: vpn %s vip-pool %s: no ike pool or ha pool of that name", v.Name, n)
			}
		}
	}
	return nil
}

// poolsPrepared is the pool part of a prepared transaction.
type poolsPrepared struct {
	pools     []pool.Config
	changed   bool
	installOn string
}

// preparePools resolves the pools of a commit and checks the VPNs that
// name them: all VPNs when the pools changed, else the fresh ones.
func (s *Service) preparePools(ike *generated.SecgwVrf_Vrf_Ike, cfg *config.Config, fresh []*config.VPN) (poolsPrepared, error) {
	var p poolsPrepared
	if ike != nil {
		var err error
		if p.pools, err = resolvePools(ike); err != nil {
			return p, err
		}
		if ike.GlobalOptions != nil && ike.GlobalOptions.InstallVipOn != nil {
			p.installOn = *ike.GlobalOptions.InstallVipOn
		}
	}
	s.vmu.Lock()
	p.changed = !reflect.DeepEqual(p.pools, s.pools)
	s.vmu.Unlock()
	check := fresh
	if p.changed {
		check = cfg.VPNs
	}
	if err := checkVIPPools(check, p.pools); err != nil {
		return p, err
	}
	if len(p.pools) > 0 && s.o.Pools == nil && !s.o.CheckOnly {
		return p, unsupported("ike: pools need the daemon's lease store, which this service was started without")
	}
	return p, nil
}

// applyPools installs the pools of a transaction (or, on Abort, the
// previous ones).
func (s *Service) applyPools(p poolsPrepared) error {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	s.installOn = p.installOn
	if !p.changed {
		return nil
	}
	if s.o.Pools != nil {
		if err := s.o.Pools.Set(p.pools); err != nil {
			return fmt.Errorf("ike: %w", err)
		}
	}
	s.pools = p.pools
	return nil
}

// vipAdapter is the engine's VIPs over the Service's pools and VIPHost.
type vipAdapter struct{ s *Service }

func (v vipAdapter) Assign(pools []string, identity string, v6 bool) (engine.VIPLease, error) {
	m := v.s.o.Pools
	if m == nil {
		return engine.VIPLease{}, pool.ErrExhausted
	}
	l, err := m.Acquire(pools, identity, v6)
	if err != nil {
		return engine.VIPLease{}, err
	}
	return engine.VIPLease{Pool: l.Pool, Identity: identity, Addr: l.Addr, DNS: l.DNS, NBNS: l.NBNS,
		DHCP: l.DHCP, Subnets: l.Subnets, Netmasks: l.Netmasks}, nil
}

// Claim implements engine.VIPClaimer for an HA takeover: the peer's
// lease is recorded (Inject, as the HA pool sync does) and the IKE SA
// counted as its holder (Acquire finds identity's address).
func (v vipAdapter) Claim(l engine.VIPLease) bool {
	m := v.s.o.Pools
	if m == nil || !m.Inject(l.Pool, l.Identity, l.Addr) {
		return false
	}
	got, err := m.Acquire([]string{l.Pool}, l.Identity, l.Addr.Is6())
	if err != nil {
		return false
	}
	if got.Addr != l.Addr {
		m.Release(got.Pool, l.Identity, got.Addr)
		return false
	}
	return true
}

func (v vipAdapter) Release(l engine.VIPLease) {
	if m := v.s.o.Pools; m != nil {
		m.Release(l.Pool, l.Identity, l.Addr)
	}
}

func (v vipAdapter) Install(vpn string, local, vip netip.Addr) error {
	if v.s.o.VIPHost == nil {
		return nil // no host to put it on (tests): the state still shows it
	}
	v.s.vmu.Lock()
	dev := v.s.installOn
	v.s.vmu.Unlock()
	return v.s.o.VIPHost.AddVIP(dev, local, vip)
}

func (v vipAdapter) Remove(vpn string, local, vip netip.Addr) {
	if v.s.o.VIPHost == nil {
		return
	}
	v.s.vmu.Lock()
	dev := v.s.installOn
	v.s.vmu.Unlock()
	v.s.o.VIPHost.RemoveVIP(dev, local, vip)
}

// poolState fills the pool-state list of the state.
func (s *Service) poolState(ike *generated.SecgwVrf_Vrf_Ike) {
	if s.o.Pools == nil {
		return
	}
	for _, p := range s.o.Pools.State(true) {
		e := &generated.SecgwVrf_Vrf_Ike_PoolState{Name: ptr(p.Name), Ha: ptr(p.HA), Size: ptr(p.Size),
			Leased: ptr(uint32(p.Leased)), Held: ptr(uint32(p.Held)), AddressFailures: ptr(p.Exhausted),
			Lease: map[string]*generated.SecgwVrf_Vrf_Ike_PoolState_Lease{}}
		for _, l := range p.Leases {
			a := l.Addr.String()
			e.Lease[a] = &generated.SecgwVrf_Vrf_Ike_PoolState_Lease{Address: ptr(a), Identity: ptr(l.Identity), Holders: ptr(uint32(l.Holders))}
		}
		if ike.PoolState == nil {
			ike.PoolState = map[string]*generated.SecgwVrf_Vrf_Ike_PoolState{}
		}
		ike.PoolState[p.Name] = e
	}
}
