package daemon

import (
	"fmt"
	"os"

	"github.com/vishvananda/netlink"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/dataplane/userspace/edge"
	"secgw/internal/ike/engine"
)

// DefaultTUN is the name of the userspace dataplane's TUN device.
const DefaultTUN = "secgw0"

// tunMTU leaves room for ESP in UDP (up to 73 octets with AES-CBC/SHA-512
// and IPv4) on a 1500-octet path.
const tunMTU = 1400

// openUserspace creates the TUN device and the userspace dataplane, which
// sends ESP from the IKE NAT-T sockets (ikeBind) and receives it from them
// (onESP), and the routing that brings the remote selectors' traffic into
// the TUN device (routes.go: from routing-table, looked up by a rule at
// routing-table-prio, like charon's kernel-libipsec).
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
	if err := d.openRouting(name); err != nil {
		_ = dp.Close()
		return nil, err
	}
	d.userspace = dp
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
