package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/edge"
	"secgw/internal/ike/engine"
	"secgw/internal/ikesvc"
)

// DefaultTUN is the name of the userspace dataplane's TUN device.
const DefaultTUN = "secgw0"

// tunMTU leaves room for ESP in UDP (up to 73 octets with AES-CBC/SHA-512
// and IPv4) on a 1500-octet path.
const tunMTU = 1400

// tunQueues is the number of TUN queues, each with its reader: one per
// CPU, at least two, at most eight.
var tunQueues = min(max(runtime.NumCPU(), 2), 8)

// InlineESP is the default of Config.ESPWorkers: no inbound ESP workers,
// the IKE NAT-T socket readers open ESP themselves. On the 2-CPU machine
// this was measured on, two workers open the ESP of 8 SAs at 0.93x to
// 1.22x the reader alone (BenchmarkInboundWorkers, from run to run:
// packets that cross to another CPU decrypt slower), and bench-esp's
// single tunnel (one SA, one worker) runs 2-7 % slower with them; workers
// are for machines with more CPUs and many SAs per local address, where
// they must be measured first (secgwd -esp-workers).
const InlineESP = 0

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
	devs, err := openTUN(name)
	if err != nil {
		return nil, fmt.Errorf("daemon: userspace dataplane: %w", err)
	}
	// Decrypted packets come out of the TUN with sources that are routed
	// into it: strict reverse-path filtering would drop them.
	_ = os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/rp_filter", []byte("0"), 0o644)
	dp, err := userspace.New(userspace.Options{TUN: devs, Bind: newIKEBind(d), MTU: 1500,
		InboundWorkers: d.cfg.ESPWorkers, Logger: d.mainLogger()})
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
// sends through the NAT-T socket of each local address with sendmmsg and UDP GSO (an
// edge.UDPBind that never receives or closes it) and never receives (the
// IKE socket readers hand ESP to onESP). ikesvc replaces the sockets of an
// address that a commit removes and adds back, so the socket is looked up
// for every batch and the UDPBind rebuilt when it changed.
type ikeBind struct {
	// ike is the IKE service whose sockets carry the ESP (nil before
	// it starts); ikePort and nattPort are Config.IKEPort and NATTPort.
	ike               func() *ikesvc.Service
	ikePort, nattPort uint16
	mu                sync.Mutex
	binds             map[netip.Addr]sendBind
}

// sendBind is the send-only UDPBind over one NAT-T socket.
type sendBind struct {
	sock *net.UDPConn
	bind *edge.UDPBind
}

func newIKEBind(d *Daemon) *ikeBind {
	return &ikeBind{ike: func() *ikesvc.Service { return d.ike }, ikePort: d.cfg.IKEPort, nattPort: d.cfg.NATTPort,
		binds: map[netip.Addr]sendBind{}}
}

func (*ikeBind) ReceiveFuncs() []edge.ReceiveFunc { return nil }

// Send sends runs of datagrams with the same local address in one batch.
// The remote ports are the engine's (500/4500) and are translated in ds
// to the real ones, as udpconn does.
func (b *ikeBind) Send(ds []edge.Datagram) error {
	var first error
	ds, first = b.sendStreams(ds)
	for len(ds) > 0 {
		run := 1
		for run < len(ds) && ds[run].Local.Addr() == ds[0].Local.Addr() {
			run++
		}
		if err := b.sendRun(ds[:run]); err != nil && first == nil {
			first = err
		}
		ds = ds[run:]
	}
	return first
}

// sendStreams sends the datagrams whose addresses belong to a TCP stream
// of IKE (RFC 9329) over it, and returns the others, in order: ds itself
// when none does (the caller's slice is never rearranged).
func (b *ikeBind) sendStreams(ds []edge.Datagram) ([]edge.Datagram, error) {
	ike := b.ike()
	if ike == nil {
		return ds, nil
	}
	var first error
	var rest []edge.Datagram
	for i, d := range ds {
		sent, err := ike.SendESPStream(d.Local.Addr().Unmap(), d.Remote.Addr().Unmap(), d.Buf)
		if err != nil && first == nil {
			first = err
		}
		switch {
		case sent && rest == nil:
			rest = append(make([]edge.Datagram, 0, len(ds)), ds[:i]...)
		case !sent && rest != nil:
			rest = append(rest, d)
		}
	}
	if rest == nil {
		return ds, first
	}
	return rest, first
}

func (b *ikeBind) sendRun(ds []edge.Datagram) error {
	ike := b.ike()
	if ike == nil {
		return errors.New("daemon: IKE not running")
	}
	a := ds[0].Local.Addr().Unmap()
	sock := ike.NATTSocket(a)
	if sock == nil {
		return fmt.Errorf("daemon: no NAT-T socket on %s", a)
	}
	b.mu.Lock()
	sb := b.binds[a]
	if sb.sock != sock {
		bind, err := edge.NewUDPBind([]*net.UDPConn{sock}, false)
		if err != nil {
			b.mu.Unlock()
			return fmt.Errorf("daemon: %w", err)
		}
		sb = sendBind{sock: sock, bind: bind}
		b.binds[a] = sb
	}
	b.mu.Unlock()
	for i := range ds {
		ds[i].Local = netip.AddrPortFrom(a, ds[i].Local.Port())
		ds[i].Remote = netip.AddrPortFrom(ds[i].Remote.Addr().Unmap(), b.realPort(ds[i].Remote.Port()))
	}
	return sb.bind.Send(ds)
}

// realPort maps an engine port (500, 4500) to the one configured.
func (b *ikeBind) realPort(p uint16) uint16 {
	switch {
	case p == engine.PortNATT && b.nattPort != 0:
		return b.nattPort
	case p == engine.PortIKE && b.ikePort != 0:
		return b.ikePort
	}
	return p
}

func (*ikeBind) Close() error { return nil }

// onESP receives ESP-in-UDP from the IKE socket of port 4500, in the
// reader's buffer (HandleESPBatched copies it); nil data ends a batch
// (udpconn.Options.OnESPBorrow) and writes the TCP segments that the
// dataplane coalesced.
func (d *Daemon) onESP(local, remote netip.AddrPort, data []byte) {
	if d.userspace == nil {
		return
	}
	if data == nil {
		d.userspace.FlushESP()
		return
	}
	d.userspace.HandleESPBatched(local, remote, data)
}

// probeDevice is the device the VPN monitor's echoes leave by: the
// userspace dataplane's TUN device, where its child SAs are; "" with the
// kernel dataplane, whose XFRM policies take the echoes whatever route
// the host gives them.
func (d *Daemon) probeDevice() string {
	if d.userspace == nil {
		return ""
	}
	if d.cfg.TUN == "" {
		return DefaultTUN
	}
	return d.cfg.TUN
}
