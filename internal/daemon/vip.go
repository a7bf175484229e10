package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netlink"

	"secgw/internal/pool"
)

// LeaseFile is where the leases of the virtual IP pools are kept, under
// the data directory (internal/pool: an append log rewritten crash-safely
// at each commit that changes a pool).
const LeaseFile = "pools/leases"

// openPools opens the lease store of the pools.
func (d *Daemon) openPools() error {
	m, err := pool.Open(pool.Options{Path: filepath.Join(d.cfg.Dir, LeaseFile),
		Logger: d.mainLogger().With("subsystem", "ike"), OnLease: d.onLease})
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.pools = m
	return nil
}

// onLease hands a lease event of the pools to HA (the HA pools' sync).
// d.ha is set before IKE runs, so before any lease is made; the events of
// the first Set (leases lost to a changed pool) find it nil and need no
// sync.
func (d *Daemon) onLease(ev pool.Event) {
	if h := d.ha; h != nil {
		h.onLease(ev)
	}
}

// vipHost puts the virtual IPs secgwd receives as a road warrior
// (vip-request) on an interface, /32 or /128 as the vsr guide says: on
// global-options install-vip-on, else on the interface that holds the
// IKE SA's local address. An address is counted: two IKE SAs given the
// same one (a reauthentication's make-before-break) add it once and the
// last one to go removes it. The child SAs' routes then pick it as their
// source (internal/routes: the host address inside the local selector).
//
// DNS servers received are not applied to the host resolver: they are
// logged and shown in the state; an operator who wants them configures
// the resolver (secgwd does not own /etc/resolv.conf).
type vipHost struct {
	log *slog.Logger
	// nl reaches the interfaces of the vrf's namespace (another vrf's
	// instance); nil is the daemon's own namespace.
	nl   *netlink.Handle
	mu   sync.Mutex
	refs map[netip.Addr]*vipRef
}

type vipRef struct {
	n    int
	link netlink.Link
}

func newVIPHost(log *slog.Logger) *vipHost {
	return &vipHost{log: log, refs: map[netip.Addr]*vipRef{}}
}

// AddVIP implements ikesvc.VIPHost.
func (h *vipHost) AddVIP(dev string, local, vip netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.refs[vip]; r != nil {
		r.n++
		return nil
	}
	link, err := h.link(dev, local)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: vip.AsSlice(), Mask: net.CIDRMask(vip.BitLen(), vip.BitLen())}}
	if vip.Is6() {
		a.Flags = 0x02 // IFA_F_NODAD: usable at once, as charon does
	}
	if err := h.handle().AddrReplace(link, a); err != nil {
		return fmt.Errorf("daemon: adding virtual IP %s on %s: %w", vip, link.Attrs().Name, err)
	}
	h.refs[vip] = &vipRef{n: 1, link: link}
	h.log.Info("virtual IP installed", "vip", vip, "dev", link.Attrs().Name)
	return nil
}

// RemoveVIP implements ikesvc.VIPHost.
func (h *vipHost) RemoveVIP(dev string, local, vip netip.Addr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.refs[vip]
	if r == nil {
		return
	}
	if r.n--; r.n > 0 {
		return
	}
	delete(h.refs, vip)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: vip.AsSlice(), Mask: net.CIDRMask(vip.BitLen(), vip.BitLen())}}
	if err := h.handle().AddrDel(r.link, a); err != nil {
		h.log.Warn("cannot remove the virtual IP", "vip", vip, "dev", r.link.Attrs().Name, "err", err)
		return
	}
	h.log.Info("virtual IP removed", "vip", vip, "dev", r.link.Attrs().Name)
}

// handle is h.nl, or the daemon's namespace's.
func (h *vipHost) handle() *netlink.Handle {
	if h.nl == nil {
		return &netlink.Handle{}
	}
	return h.nl
}

// link is the interface named dev, or without a name the one holding
// local.
func (h *vipHost) link(dev string, local netip.Addr) (netlink.Link, error) {
	nl := h.handle()
	if dev != "" {
		l, err := nl.LinkByName(dev)
		if err != nil {
			return nil, fmt.Errorf("daemon: install-vip-on %s: %w", dev, err)
		}
		return l, nil
	}
	as, err := nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == local.Unmap() {
			return nl.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("daemon: no interface holds the local address %s to put the virtual IP on", local)
}

// closeVIPs removes the virtual IPs still installed (secgwd stops: its
// IKE SAs are gone).
func (h *vipHost) closeVIPs() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for vip, r := range h.refs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: vip.AsSlice(), Mask: net.CIDRMask(vip.BitLen(), vip.BitLen())}}
		_ = h.handle().AddrDel(r.link, a)
		delete(h.refs, vip)
	}
}
