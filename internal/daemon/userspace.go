package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/program"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/dataplane/userspace/edge"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// DefaultTUN is the name of the userspace dataplane's TUN device.
const DefaultTUN = "secgw0"

// Routing of the userspace dataplane: the remote traffic selectors are
// routed into the TUN device from a table of their own, looked up before
// main, like charon's kernel-libipsec does (global-options routing-table
// and routing-table-prio, both 220 by default).
const (
	routeTable    = 220
	routeRulePrio = 220
	// tunMTU leaves room for ESP in UDP (up to 73 octets with
	// AES-CBC/SHA-512 and IPv4) on a 1500-octet path.
	tunMTU = 1400
)

// openUserspace creates the TUN device and the userspace dataplane, which
// sends ESP from the IKE NAT-T sockets (ikeBind) and receives it from them
// (onESP).
func (d *Daemon) openUserspace() (dataplane.Dataplane, error) {
	name := d.cfg.TUN
	if name == "" {
		name = DefaultTUN
	}
	devs, err := edge.CreateTUN(name, 1)
	if err != nil {
		return nil, fmt.Errorf("daemon: userspace dataplane: %w", err)
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetMTU(link, tunMTU)
	}
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		for _, dev := range devs {
			dev.Close()
		}
		return nil, fmt.Errorf("daemon: userspace dataplane: %s: %w", name, err)
	}
	// Decrypted packets come out of the TUN with sources that are routed
	// into it: strict reverse-path filtering would drop them.
	_ = os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/rp_filter", []byte("0"), 0o644)
	dp, err := userspace.New(userspace.Options{TUN: devs, Bind: ikeBind{d}, MTU: 1500,
		Logger: d.cfg.Logger.With("subsystem", "ipsec")})
	if err != nil {
		for _, dev := range devs {
			dev.Close()
		}
		return nil, fmt.Errorf("daemon: userspace dataplane: %w", err)
	}
	d.userspace = dp
	d.routes = &tunRoutes{link: link.Attrs().Index, refs: map[netip.Prefix]int{}}
	if err := d.routes.addRule(); err != nil {
		d.log.Warn("cannot add the policy routing rule of the userspace dataplane", "err", err)
	}
	return dp, nil
}

// ikeBind is the userspace dataplane's UDP edge over the IKE sockets: it
// sends through them and never receives (the IKE socket readers hand ESP
// to onESP).
type ikeBind struct{ d *Daemon }

func (ikeBind) ReceiveFuncs() []edge.ReceiveFunc { return nil }

func (b ikeBind) Send(ds []edge.Datagram) error {
	var first error
	for _, x := range ds {
		err := b.d.ike.SendESP(engine.Datagram{Local: x.Local, Remote: x.Remote, Data: x.Buf})
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (ikeBind) Close() error { return nil }

// onESP receives ESP-in-UDP from the IKE socket of port 4500.
func (d *Daemon) onESP(dg engine.Datagram) {
	if d.userspace != nil {
		d.userspace.HandleESP(dg.Local, dg.Remote, dg.Data)
	}
}

// routedProgrammer is the engine's dataplane with the userspace
// dataplane: the programmer, plus routes of the remote selectors into the
// TUN device while a child SA needs them.
type routedProgrammer struct {
	*program.Programmer
	routes *tunRoutes
	d      *Daemon
}

func (p routedProgrammer) InstallChild(c engine.ChildSA) error {
	if err := p.Programmer.InstallChild(c); err != nil {
		return err
	}
	for _, ts := range c.RemoteTS {
		if err := p.routes.add(ts, c.LocalTS, c.Remote.Addr()); err != nil {
			p.d.log.Warn("cannot route a remote selector into the TUN device", "ts", tsString(ts), "err", err)
		}
	}
	return nil
}

func (p routedProgrammer) DeleteChild(c engine.ChildSA) error {
	for _, ts := range c.RemoteTS {
		p.routes.del(ts)
	}
	return p.Programmer.DeleteChild(c)
}

// tunRoutes refcounts the routes of remote selectors in routeTable.
type tunRoutes struct {
	mu   sync.Mutex
	link int
	refs map[netip.Prefix]int
}

func (r *tunRoutes) addRule() error {
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		rule := netlink.NewRule()
		rule.Family, rule.Table, rule.Priority = fam, routeTable, routeRulePrio
		if err := netlink.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return nil
}

func (r *tunRoutes) delRule() {
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		rule := netlink.NewRule()
		rule.Family, rule.Table, rule.Priority = fam, routeTable, routeRulePrio
		_ = netlink.RuleDel(rule)
	}
}

// add routes the prefix of ts into the TUN device, with the source
// address of ours that lies in the local selectors, if any (so that the
// gateway's own traffic to the remote network is protected too).
//
// A selector that holds the peer's own address is not routed: IKE and ESP
// to the peer would loop into the tunnel.
func (r *tunRoutes) add(ts wire.TrafficSelector, local []wire.TrafficSelector, peer netip.Addr) error {
	p, ok := tsPrefix(ts)
	if !ok {
		return fmt.Errorf("selector %s is not a prefix", tsString(ts))
	}
	if p.Contains(peer.Unmap()) {
		return fmt.Errorf("selector %s holds the peer's address %s: not routed into the tunnel", p, peer)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refs[p]++
	if r.refs[p] > 1 {
		return nil
	}
	rt := &netlink.Route{LinkIndex: r.link, Dst: prefixNet(p), Table: routeTable}
	if src, ok := localSource(local, p.Addr().Is4()); ok {
		rt.Src = src.AsSlice()
	}
	return netlink.RouteReplace(rt)
}

func (r *tunRoutes) del(ts wire.TrafficSelector) {
	p, ok := tsPrefix(ts)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs[p] == 0 {
		return
	}
	if r.refs[p]--; r.refs[p] > 0 {
		return
	}
	delete(r.refs, p)
	_ = netlink.RouteDel(&netlink.Route{LinkIndex: r.link, Dst: prefixNet(p), Table: routeTable})
}

// close removes every route and the rule.
func (r *tunRoutes) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.refs {
		_ = netlink.RouteDel(&netlink.Route{LinkIndex: r.link, Dst: prefixNet(p), Table: routeTable})
	}
	clear(r.refs)
	r.delRule()
}

// localSource is an address of this host inside the local selectors.
func localSource(local []wire.TrafficSelector, v4 bool) (netip.Addr, bool) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || ip.Unmap().Is4() != v4 {
			continue
		}
		ip = ip.Unmap()
		for _, ts := range local {
			if ts.StartAddr.Compare(ip) <= 0 && ip.Compare(ts.EndAddr) <= 0 {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// tsPrefix is the prefix a selector's address range is, if it is one.
func tsPrefix(ts wire.TrafficSelector) (netip.Prefix, bool) {
	bits := ts.StartAddr.BitLen()
	for l := 0; l <= bits; l++ {
		p, err := ts.StartAddr.Prefix(l)
		if err != nil || p.Addr() != ts.StartAddr {
			continue
		}
		if last := lastOf(p); last == ts.EndAddr {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func tsString(ts wire.TrafficSelector) string {
	if p, ok := tsPrefix(ts); ok {
		return p.String()
	}
	return ts.StartAddr.String() + "-" + ts.EndAddr.String()
}
