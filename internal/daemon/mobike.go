package daemon

import (
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"

	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
)

// MOBIKE as initiator (RFC 4555 §3.5): the daemon watches the host's
// addresses and routes through netlink and, after each burst of changes,
// asks the engine to move the IKE SAs it initiated with MOBIKE whose path
// changed. The decision is movePath; the netlink side is mobility.

// mobikeSettle is how long the watcher waits after an address or route
// event for the burst to end (an address change is a delete and an add;
// a new address brings its routes) before it decides.
const mobikeSettle = 200 * time.Millisecond

// pathView is what movePath needs of the host: whether an address is
// still configured, and which source address routing now picks for a
// destination; and for the advertised addresses, the host's addresses.
type pathView interface {
	hasAddr(netip.Addr) bool
	source(dst netip.Addr) (netip.Addr, bool)
	// list lists the host's addresses, sorted; nil if unknown.
	list() []netip.Addr
}

// movePath decides where an initiator's MOBIKE IKE SA at local goes to
// reach remote: the guide's mobike-prefer-best-path says whether a cheaper
// path is taken while the current one still works; without it the SA
// moves only when its local address is gone (the current path stopped
// working). It returns the new local address, or false to stay.
func movePath(local, remote netip.Addr, host pathView, preferBest bool) (netip.Addr, bool) {
	src, ok := host.source(remote)
	if !ok || src == local {
		return netip.Addr{}, false
	}
	if host.hasAddr(local) && !preferBest {
		return netip.Addr{}, false
	}
	return src, true
}

// mobileService is the IKE service as the watcher uses it
// (ikesvc.Service).
type mobileService interface {
	Engine() *engine.Engine
	MoveIKE(uid uint32, local netip.Addr) error
	SetHostAddrs([]netip.Addr)
	AnnounceAddresses(uid uint32) error
}

// mobility is the watcher: it holds the netlink subscriptions and the
// goroutine that acts on them.
type mobility struct {
	svc  mobileService
	log  *slog.Logger
	done chan struct{}
	// hostAddrs are the host's addresses at the last check, nil before
	// the first (run's goroutine only).
	hostAddrs []netip.Addr
}

// startMobility subscribes to address and route changes and starts the
// watcher; close stops it. A host where netlink cannot be subscribed to
// gets no watcher (logged): MOBIKE SAs then answer the peer's updates but
// do not move on their own.
func startMobility(svc mobileService, log *slog.Logger) *mobility {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &mobility{svc: svc, log: log.With("subsystem", "ike"), done: make(chan struct{})}
	addrs := make(chan netlink.AddrUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	if err := netlink.AddrSubscribe(addrs, m.done); err != nil {
		m.log.Warn("MOBIKE: cannot watch addresses; IKE SAs will not follow address changes", "err", err)
		return m
	}
	if err := netlink.RouteSubscribe(routes, m.done); err != nil {
		m.log.Warn("MOBIKE: cannot watch routes; IKE SAs will not follow routing changes", "err", err)
	}
	go m.run(addrs, routes)
	return m
}

func (m *mobility) close() {
	select {
	case <-m.done:
	default:
		close(m.done)
	}
}

func (m *mobility) run(addrs <-chan netlink.AddrUpdate, routes <-chan netlink.RouteUpdate) {
	var settle <-chan time.Time
	for {
		select {
		case <-m.done:
			return
		case _, ok := <-addrs:
			if !ok {
				return
			}
			settle = time.After(mobikeSettle)
		case _, ok := <-routes:
			if !ok {
				routes = nil
				continue
			}
			settle = time.After(mobikeSettle)
		case <-settle:
			settle = nil
			m.check(hostPaths{})
		}
	}
}

// check moves every IKE SA movePath says should move and, when the
// host's addresses changed, sends the other MOBIKE IKE SAs our new list
// of additional addresses (RFC 4555 §3.6; a move's UPDATE_SA_ADDRESSES
// carries it already).
func (m *mobility) check(host pathView) {
	e := m.svc.Engine()
	if e == nil {
		return
	}
	addrs := host.list()
	changed := false
	if addrs != nil {
		changed = m.hostAddrs != nil && !slices.Equal(addrs, m.hostAddrs)
		m.hostAddrs = addrs
		m.svc.SetHostAddrs(addrs)
	}
	cfg := e.Config()
	initiates := slices.ContainsFunc(cfg.VPNs, func(v *config.VPN) bool { return v.MOBIKE && v.Initiator() })
	if !initiates && !(changed && slices.ContainsFunc(cfg.VPNs, func(v *config.VPN) bool { return v.MOBIKE })) {
		return // no IKE SA of ours can move or announce: no snapshot of every SA on each route change
	}
	prefer := cfg.Global.MOBIKEPreferBestPath
	for _, sa := range e.Snapshot(false) {
		if !sa.MOBIKE || sa.State != "established" {
			continue
		}
		if sa.MOBIKEInitiator && m.move(sa, host, prefer) {
			continue
		}
		if changed {
			if err := m.svc.AnnounceAddresses(sa.UniqueID); err != nil {
				m.log.Warn("MOBIKE: cannot announce our addresses", "vpn", sa.VPN, "unique-id", sa.UniqueID, "err", err)
			}
		}
	}
}

// move moves one IKE SA we initiated if movePath says so, and reports
// whether it asked the engine to.
func (m *mobility) move(sa engine.SAState, host pathView, prefer bool) bool {
	local, remote := sa.Local.Addr().Unmap(), sa.Remote.Addr().Unmap()
	to, ok := movePath(local, remote, host, prefer)
	if !ok {
		return false
	}
	m.log.Info("MOBIKE: moving IKE SA to a new local address", "vpn", sa.VPN, "unique-id", sa.UniqueID,
		"from", local, "to", to, "remote", remote, "prefer-best-path", prefer)
	if err := m.svc.MoveIKE(sa.UniqueID, to); err != nil {
		m.log.Warn("MOBIKE: cannot move IKE SA", "vpn", sa.VPN, "unique-id", sa.UniqueID, "err", err)
		return false
	}
	return true
}

// hostPaths is pathView over the host's netlink.
type hostPaths struct{}

func (hostPaths) hasAddr(a netip.Addr) bool {
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return true // unknown: do not move on a guess
	}
	for _, x := range list {
		if ip, ok := netip.AddrFromSlice(x.IP); ok && ip.Unmap() == a {
			return true
		}
	}
	return false
}

func (hostPaths) list() []netip.Addr {
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil
	}
	out := []netip.Addr{}
	for _, x := range list {
		ip, ok := netip.AddrFromSlice(x.IP)
		if ip = ip.Unmap(); ok && ip.IsGlobalUnicast() && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func (hostPaths) source(dst netip.Addr) (netip.Addr, bool) {
	rs, err := netlink.RouteGet(net.IP(dst.AsSlice()))
	if err != nil || len(rs) == 0 || rs[0].Src == nil {
		return netip.Addr{}, false
	}
	src, ok := netip.AddrFromSlice(rs[0].Src)
	return src.Unmap(), ok
}
