package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"secgw/generated"
	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ikesvc"
	"secgw/internal/netconf"
	"secgw/internal/vpnmon"
)

// Dataplane choices of Config.Dataplane.
const (
	// DataplaneAuto picks the kernel when it has ESP, else userspace.
	DataplaneAuto = "auto"
	// DataplaneKernel programs XFRM over netlink.
	DataplaneKernel = "kernel"
	// DataplaneUserspace runs ESP in secgwd on a TUN device.
	DataplaneUserspace = "userspace"
	// DataplaneFake programs an in-memory table: the IKE engine runs,
	// no traffic is protected (tests of the management plane).
	DataplaneFake = "fake"
)

// startIKE builds the dataplane, its programmer and the IKE subsystem,
// applies the running configuration to them and subscribes them (and the
// logging configuration) to the datastore.
func (d *Daemon) startIKE() error {
	if err := d.openPools(); err != nil {
		return err
	}
	d.vips = newVIPHost(d.mainLogger().With("subsystem", "ike"))
	dp, err := d.openDataplane()
	if err != nil {
		return err
	}
	d.dataplane = dp
	d.log.Info("dataplane selected", "dataplane", dp.Kind())
	// Security policy priority and svti-id-in/out, from the
	// configuration the engine runs.
	opts := &childOptions{cfg: func() *config.Config { return d.ike.Engine().Config() }}
	d.programmer = childsa.NewProgrammer(childsa.ProgrammerOptions{
		Dataplane: dp,
		Options:   opts.options,
		Logger:    d.mainLogger(),
		// The userspace dataplane checks decrypted packets against
		// the in policies: fwd policies would only take memory. Its
		// SAs live in secgwd: the inbound SA's time limits expire a
		// child SA (childsa.ProgrammerOptions.InTimeLimits).
		NoFwd:        dp.Kind() == DataplaneUserspace,
		InTimeLimits: dp.Kind() == DataplaneUserspace,
	})
	kind := dp.Kind()
	if kind == DataplaneFake {
		kind = ""
	}
	var eng engine.Dataplane = d.programmer
	// The IKE service decides which child SAs' routes wait for
	// datapath verification; it exists once ikesvc.New returns, before
	// any child SA is installed.
	verify := &lateVerifier{}
	if d.routes != nil {
		eng = newRoutedProgrammer(d.programmer, d.routes, verify)
	}
	// A dataplane that cannot carry every ESP suite (userspace) says
	// which it can: the engine offers and accepts only those.
	var supportsESP func(ikecrypto.Suite) bool
	if s, ok := dp.(engine.ESPSupport); ok {
		supportsESP = s.SupportsESP
	}
	var monitorRoutes func(engine.ChildSA, bool)
	if d.routes != nil {
		monitorRoutes = d.routes.monitorRoutes
	}
	d.ike = ikesvc.New(ikesvc.Options{
		Logger:        d.cfg.Logger,
		Dataplane:     eng,
		DataplaneKind: kind,
		OnESPBorrow:   d.onESP,
		PortIKE:       d.cfg.IKEPort,
		PortNATT:      d.cfg.NATTPort,
		Counters:      d.childCounters,
		OnEvent:       d.onIKEEvent,
		OnDebug:       func(r engine.DebugRecord) { d.onIKEDebugIn(ikesvc.VRF, r) },
		ForceEncap:    d.userspace != nil,
		OnNATTSocket:  d.onNATTSocket,
		Activity:      d.childActivity,
		LogKeys:       d.cfg.LogKeys,
		PKIDir:        filepath.Join(d.cfg.Dir, "pki"),
		// The userspace dataplane has no XFRM interfaces: svti-id-in
		// and svti-id-out are refused there.
		NoIfID:      d.userspace != nil,
		SupportsESP: supportsESP,
		// Only the userspace dataplane carries ESP over the TCP
		// streams of RFC 9329 (ikeBind.Send); the kernel's would need
		// espintcp.
		TCPStreams: d.userspace != nil,
		Pools:      d.pools,
		VIPHost:    d.vips,
		// The VPN monitor's echoes go through raw ICMP sockets: the
		// host routes them into the child SA.
		NewProber: func(reply func(id, seq uint16)) vpnmon.Prober { return vpnmon.NewICMP(reply) },
		OnSAEvent: d.onSAEvent,
		// vpn-monitor action down withdraws the child SA's routes;
		// verify-path installs those that waited.
		OnMonitorRoutes: monitorRoutes,
		// The userspace dataplane's echoes leave by its TUN device,
		// routed or not (verify-path withholds the routes).
		ProbeDevice: d.probeDevice(),
		// The other vrfs run an IKE instance each (vrf.go).
		OtherVRFsRun: true,
		// badspi.go samples the kernel dataplane's unknown-SPI ESP.
		KernelBadSPI: kind == DataplaneKernel,
	})
	verify.s = d.ike
	d.ha = newHASub(d)
	d.vrfs = newVRFs(d, d.netnsDir())
	if x, ok := dp.(*xfrm.Dataplane); ok {
		d.spdHash = newSPDHash(x.SetSPDHash, d.mainLogger())
	}
	var startErr error
	d.store.View(func(running *generated.Device) {
		if d.cfg.LogHandler != nil {
			d.cfg.LogHandler.Set(logConfig(loggingOf(running)))
		}
		if d.routes != nil {
			// Before IKE: no child SA is routed before a previous run's
			// routes are cleaned up.
			d.routes.start(running)
		}
		if d.spdHash != nil {
			// Before IKE: the policies it installs are hashed at once.
			d.spdHash.start(running)
		}
		d.ha.passiveAtStart(running)
		startErr = d.ike.Start(running)
		d.vrfs.start(running)
		if err := d.ha.start(running); err != nil {
			d.log.Error("IKE HA could not apply the running configuration", "err", err)
		}
	})
	if startErr != nil {
		// The running configuration was valid when committed; a failure
		// here is the environment (an address gone): log it and serve, so
		// that the operator can fix the configuration over NETCONF.
		d.log.Error("IKE could not apply the running configuration", "err", startErr)
	}
	if d.cfg.LogHandler != nil {
		d.store.Subscribe(&logSubscriber{h: d.cfg.LogHandler})
	}
	if d.spdHash != nil {
		d.store.Subscribe(d.spdHash)
	}
	d.store.Subscribe(d.ike)
	d.store.Subscribe(d.vrfs)
	// After IKE: a role change finds the engine configured.
	d.store.Subscribe(d.ha)
	if d.routes != nil {
		d.store.Subscribe(d.routes)
	}
	go d.dataplaneEvents()
	if x, ok := dp.(*xfrm.Dataplane); ok {
		d.stopBadSPI = d.startBadSPIWatch(x)
	}
	d.mobility = startMobility(d.ike, d.mainLogger())
	return nil
}

// openDataplane opens the dataplane Config.Dataplane names.
func (d *Daemon) openDataplane() (dataplane.Dataplane, error) {
	switch d.cfg.Dataplane {
	case DataplaneFake:
		return dataplane.NewFake(), nil
	case DataplaneUserspace:
		return d.openUserspace()
	case DataplaneKernel:
		return d.openKernel()
	case DataplaneAuto, "":
		// The kernel when it can hold ESP SAs (probed in a throwaway
		// namespace), else userspace; the log says which and why.
		if err := xfrm.ProbeESP(); err != nil {
			d.log.Info("the kernel has no ESP: using the userspace dataplane", "probe", err.Error())
			return d.openUserspace()
		}
		return d.openKernel()
	}
	return nil, fmt.Errorf("daemon: unknown dataplane %q (auto, kernel, userspace, fake)", d.cfg.Dataplane)
}

// childCounters reads a child SA's counters from vrf main's dataplane.
func (d *Daemon) childCounters(c engine.ChildSA) (in, out ikesvc.Counters) {
	return childCountersOf(d.dataplane, c)
}

// childCountersOf reads a child SA's counters from dp: the same figures
// feed the child-sa state leaves (bytes-in ... integrity-errors-in), the
// metrics, which read that state, and the flush replies. An SA the
// dataplane does not know reads as zero.
func childCountersOf(dp dataplane.Dataplane, c engine.ChildSA) (in, out ikesvc.Counters) {
	ctx := context.Background()
	if k, err := dp.Counters(ctx, dataplane.SAKey{Dst: c.Local.Addr(), SPI: c.InSPI}); err == nil {
		in = ikesvc.Counters{Bytes: k.Bytes, Packets: k.Packets, ReplayErrors: k.ReplayDrops, IntegrityErrors: k.AuthDrops}
	}
	if k, err := dp.Counters(ctx, dataplane.SAKey{Dst: c.Remote.Addr(), SPI: c.OutSPI}); err == nil {
		out = ikesvc.Counters{Bytes: k.Bytes, Packets: k.Packets}
	}
	return in, out
}

// onSAEvent logs an sa-event of the IKE service (the VPN monitor's) at
// level 0 and sends it as a NETCONF notification, as onIKEEvent does the
// engine's.
func (d *Daemon) onSAEvent(e ikesvc.SAEvent) {
	attrs := []any{"subsystem", "ike", "vrf", e.VRF, "event", e.Event, "vpn", e.VPN}
	if e.Policy != nil {
		attrs = append(attrs, "policy", *e.Policy, "child-unique-id", *e.ChildUniqueID)
	}
	if e.Reason != nil {
		attrs = append(attrs, "reason", *e.Reason)
	}
	d.cfg.Logger.Log(context.Background(), slog.LevelInfo, "SA event", attrs...)
	if d.netconf != nil {
		if err := d.netconf.Notify("sa-event", e); err != nil {
			d.log.Error("sa-event notification", "err", err)
		}
	}
}

// onIKEDebugIn sends a debug trace record of the engine of vrf (the
// engine logged it) as the ike-debug NETCONF notification, for 'monitor
// ike'. The server drops it for a session that does not read: the
// engine never waits.
func (d *Daemon) onIKEDebugIn(vrf string, r engine.DebugRecord) {
	if d.netconf != nil {
		if err := d.netconf.Notify("ike-debug", ikesvc.NewDebugRecord(vrf, r)); err != nil {
			d.log.Error("ike-debug notification", "err", err)
		}
	}
}

// onIKEEvent logs SA events at level 0 (the guide's audit level) and
// sends them as NETCONF notifications.
func (d *Daemon) onIKEEvent(ev engine.Event) { d.onIKEEventIn(ikesvc.VRF, ev) }

// onIKEEventIn is onIKEEvent for the IKE instance of vrf.
func (d *Daemon) onIKEEventIn(vrf string, ev engine.Event) {
	attrs := []any{"subsystem", "ike", "vrf", vrf, "event", ev.Kind.String(), "vpn", ev.VPN, "unique-id", ev.SA}
	if ev.Policy != "" {
		attrs = append(attrs, "policy", ev.Policy, "child-unique-id", ev.Child)
	}
	if ev.Reason != "" {
		attrs = append(attrs, "reason", ev.Reason)
	}
	d.cfg.Logger.Log(context.Background(), slog.LevelInfo, "SA event", attrs...)
	if d.netconf != nil {
		e := ikesvc.NewSAEvent(ev)
		e.VRF = vrf
		if err := d.netconf.Notify("sa-event", e); err != nil {
			d.log.Error("sa-event notification", "err", err)
		}
	}
}

// dataplaneEvents hands the dataplane's events (soft and hard expiries by
// bytes or packets, sequence overflow, acquires of trap policies) to the
// IKE engine until the dataplane closes.
func (d *Daemon) dataplaneEvents() {
	for ev := range d.dataplane.Events() {
		if ev.Kind != dataplane.Acquire {
			// An acquire comes with traffic that hits a trap: the
			// engine logs the ones that start a negotiation, once.
			d.log.Debug("dataplane event", "event", ev.Kind.String(), "sa", ev.SA.String(), "reason", ev.Reason)
		}
		d.ike.DataplaneEvent(ev)
	}
}

// childActivity is when a child SA last received and sent traffic: DPD
// takes inbound ESP as proof of the peer's liveness.
func (d *Daemon) childActivity(c engine.ChildSA) (in, out time.Time) {
	ctx := context.Background()
	if k, err := d.dataplane.Counters(ctx, dataplane.SAKey{Dst: c.Local.Addr(), SPI: c.InSPI}); err == nil {
		in = k.LastUsed
	}
	if k, err := d.dataplane.Counters(ctx, dataplane.SAKey{Dst: c.Remote.Addr(), SPI: c.OutSPI}); err == nil {
		out = k.LastUsed
	}
	return in, out
}

// state is the operational state <get> returns beside running.
func (d *Daemon) state(r netconf.StateRequest) *generated.Device {
	main := ikesvc.VRF
	dev := &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{
		main: {Name: &main, Ike: d.mainState(r)},
	}}
	if d.vrfs != nil {
		d.vrfs.state(dev, r)
	}
	return dev
}

// mainState is the ike state of vrf main.
func (d *Daemon) mainState(r netconf.StateRequest) *generated.SecgwVrf_Vrf_Ike {
	ike := d.ike.State(r.Secrets)
	fillStatistics(ike, d.ike, d.userspace, kernelOf(d.dataplane))
	d.ha.state(ike)
	if r.Wants("vrf", "ike", "diagnostics") {
		// The dataplane's whole table: only when asked for.
		ike.Diagnostics = d.diagnostics()
	}
	return ike
}

// ikeRPCs binds the model's RPCs to the IKE services' typed methods
// (secgw-ike-rpc.yang's) through v, which picks the instance of the vrf
// the input names, and secgw-ha's ha-notify to the HA subsystem; the
// NETCONF server decodes their input and encodes their output.
// load-pki-file writes the PKI directory all vrfs share: main's service.
func ikeRPCs(v vrfRPCs, s *ikesvc.Service, h *haSub) map[string]netconf.RPCHandler {
	return map[string]netconf.RPCHandler{
		"initiate":      netconf.RPC(v.Initiate),
		"rekey":         netconf.RPC(v.Rekey),
		"reauth":        netconf.RPC(v.Reauth),
		"redirect":      netconf.RPC(v.Redirect),
		"flush":         netconf.RPC(v.Flush),
		"load-pki-file": netconf.RPC(s.LoadPKIFile),
		"ha-notify":     netconf.RPC(h.HANotify),
		"debug-ike":     netconf.RPC(v.DebugIKE),
	}
}

// openKernel opens the kernel XFRM dataplane, subscribed to acquires and
// expiries, and the routing of install-routes and inject-routes.
func (d *Daemon) openKernel() (dataplane.Dataplane, error) {
	dp, err := xfrm.New(xfrm.Options{Events: true, Logger: d.mainLogger()})
	if err != nil {
		return nil, fmt.Errorf("daemon: kernel dataplane: %w", err)
	}
	if err := d.openRouting(""); err != nil {
		_ = dp.Close()
		return nil, err
	}
	d.kernel = true
	return dp, nil
}

// onNATTSocket prepares an IKE NAT-T socket for the dataplane: the kernel
// decapsulates UDP-encapsulated ESP only on a socket with
// UDP_ENCAP_ESPINUDP; the userspace dataplane reads and writes its ESP
// through the socket, which needs buffers for bursts of it.
func (d *Daemon) onNATTSocket(c *net.UDPConn) error {
	if !d.kernel {
		return setESPBuffers(c)
	}
	return xfrm.EnableESPInUDP(c)
}

// lateVerifier is the IKE service's datapath verification for the
// routed programmer, which is made before the service: s is set once,
// right after ikesvc.New, before the service installs any child SA.
type lateVerifier struct{ s *ikesvc.Service }

// WithholdRoutes implements verifier.
func (v *lateVerifier) WithholdRoutes(c engine.ChildSA) bool {
	return v.s != nil && v.s.WithholdRoutes(c)
}

// RoutesWithheld implements verifier.
func (v *lateVerifier) RoutesWithheld(c engine.ChildSA) bool {
	return v.s != nil && v.s.RoutesWithheld(c)
}
