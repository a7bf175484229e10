// Package ikesvc is the daemon's IKE subsystem: it runs the IKEv2 engine of
// vrf main from the running configuration, applies commits to it live
// (datastore.Subscriber), serves its operational state (ike-sa, child-sa,
// statistics) and carries out the model's RPCs (initiate, rekey, reauth,
// flush).
//
// A commit is applied in two phases. Prepare resolves the new IKE
// configuration, only the VPNs the commit touches (refusing the commit
// with the reason when it cannot be used; commit.go), and opens the UDP
// sockets of any new local address; Apply hands the configuration to the
// engine with the names of the VPNs that changed, whose SAs alone it
// tears down, and swaps the sockets; Abort closes what Prepare opened and
// restores the previous configuration if Apply ran.
//
// Only vrf main runs IKE for now: the VPNs of another vrf are accepted (the
// configuration is valid) but not run, and a warning says so.
package ikesvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/ike/udpconn"
	"secgw/internal/pool"
	"secgw/internal/rpcerr"
	"secgw/internal/vpnmon"
)

// VRF is the vrf a Service runs in when Options.VRF is empty: the
// namespace secgwd starts in.
const VRF = "main"

// Options configures a Service.
type Options struct {
	Logger *slog.Logger
	// VRF names the vrf whose ike container this Service runs (one
	// Service per vrf, each with its own engine, sockets and SA table);
	// empty is VRF (main). Events, debug records and logs carry it.
	VRF string
	// InVRF, if set, runs fn inside the vrf's network namespace (a
	// locked OS thread that entered it, netnsutil.RunNamed): the IKE
	// sockets, the host-address and source-address lookups are made
	// there. A socket keeps the namespace it was created in after the
	// thread leaves, so the readers need nothing more. Nil runs fn in
	// the current namespace.
	InVRF func(fn func() error) error
	// Dataplane receives the child SAs (the daemon's dataplane
	// programmer). Required.
	Dataplane engine.Dataplane
	// KernelBadSPI says that the daemon samples the kernel dataplane's
	// ESP with an unknown SPI and hands it to DataplaneEvent (the
	// daemon's badspi.go): respond-bad-spi is then honoured with the
	// kernel dataplane, refused without.
	KernelBadSPI bool
	// DataplaneKind is reported as ike dataplane in the state
	// ("kernel" or "userspace").
	DataplaneKind string
	// OnESP receives ESP-in-UDP datagrams arriving on port 4500 (the
	// userspace dataplane); nil drops them.
	OnESP func(engine.Datagram)
	// OnESPBorrow is udpconn.Options.OnESPBorrow: used instead of OnESP,
	// with data valid only during the call.
	OnESPBorrow func(local, remote netip.AddrPort, data []byte)
	// HostAddrs lists the addresses to bind for VPNs without a
	// local-address; nil means the host's global unicast addresses.
	HostAddrs func() []netip.Addr
	// PortIKE and PortNATT move the sockets for tests (see udpconn).
	PortIKE, PortNATT uint16
	// Counters, if set, returns the traffic counters of a child SA.
	Counters func(c engine.ChildSA) (in, out Counters)
	// OnNATTSocket is udpconn.Options.OnNATTSocket (the kernel
	// dataplane's UDP_ENCAP_ESPINUDP).
	OnNATTSocket func(*net.UDPConn) error
	// ForceEncap makes every SA encapsulate ESP in UDP (the userspace
	// dataplane speaks nothing else); see engine.Options.ForceEncap.
	ForceEncap bool
	// OnEvent, if set, hears every SA event (the daemon's NETCONF
	// notifications); called from the engine: it must not block.
	OnEvent func(engine.Event)
	// OtherVRFsRun says the daemon runs the ike containers of the other
	// vrfs (a Service each): the Service of vrf main stops warning that
	// their VPNs are not run.
	OtherVRFsRun bool
	// Activity, if set, returns when a child SA last received and sent
	// traffic: DPD takes inbound ESP as proof of liveness and dpd-mode
	// optimized probes only after outbound traffic (engine.Activity).
	Activity func(c engine.ChildSA) (in, out time.Time)
	// LogKeys is engine.Options.LogKeys (secgwd -log-keys).
	LogKeys bool
	// NewProber, if set, makes the ICMP prober of the VPN monitor
	// (vpnmon.NewICMP in secgwd), handing it the function that takes
	// the echo replies; without it vpn-monitor is refused at commit.
	NewProber func(reply func(id, seq uint16)) vpnmon.Prober
	// OnMonitorRoutes, if set, withdraws (up false) or restores (up
	// true) the routes of a child SA (the VPN monitor's action down),
	// and installs those that waited for datapath verification (up
	// true; Service.WithholdRoutes); without it action down and
	// verify-path are refused at commit.
	OnMonitorRoutes func(c engine.ChildSA, up bool)
	// ProbeDevice, if set, is the device the VPN monitor's echoes leave
	// by whatever the routes say (vpnmon.Config.Dev): the userspace
	// dataplane's TUN device, so that a child SA whose routes wait for
	// datapath verification is probed through it. IPv4 echoes only:
	// Linux sends an IPv6 one out of a device only by a route.
	ProbeDevice string
	// OnSAEvent, if set, hears the VPN monitor's sa-events
	// (vpn-monitor-down, vpn-monitor-up); it must not block.
	OnSAEvent func(SAEvent)
	// OnDebug is engine.Options.OnDebug: the debug trace records (the
	// daemon's ike-debug notifications); it must not block.
	OnDebug func(engine.DebugRecord)
	// PKIDir is the directory of the certificate store's files
	// (pki.go): the data directory's pki/.
	PKIDir string
	// NoIfID says that the dataplane cannot bind SAs and policies to an
	// XFRM interface (the userspace dataplane): a configuration with
	// svti-id-in or svti-id-out is refused (operation-not-supported)
	// rather than run without them.
	NoIfID bool
	// InitiateTimeout bounds how long Initiate waits for the outcome of
	// a negotiation before answering (it goes on after); 0 is
	// DefaultInitiateTimeout.
	InitiateTimeout time.Duration
	// SupportsESP is engine.Options.SupportsESP: the ESP suites the
	// dataplane can carry (engine.ESPSupport); nil means all of them.
	SupportsESP func(ikecrypto.Suite) bool
	// TCPStreams says that the dataplane carries ESP over the TCP
	// streams of IKE (RFC 9329): it sends through SendESPStream and
	// receives through OnESPBorrow or OnESP (the userspace dataplane).
	// Without it, listen-tcp and transport tcp or udp-then-tcp are
	// refused.
	TCPStreams bool
	// Pools holds the leases of the virtual IP pools (the daemon opens
	// it on its data directory); nil refuses configurations with pools.
	Pools *pool.Manager
	// VIPHost installs the virtual IPs received as initiator
	// (vip-request); nil leaves the host alone.
	VIPHost VIPHost
	// CheckOnly makes a Service that only checks the commits of its
	// vrf, as the Service of a vrf that cannot run yet would (check.go):
	// it opens no socket, runs no SA, and accepts pools without a lease
	// store (Pools nil).
	CheckOnly bool
}

// ClearDataplane is implemented by dataplanes that install the security
// policies of action pass and drop (childsa.Programmer): the Service
// hands them config.Config.Clear at every commit that applies. Without
// it, such policies are refused.
type ClearDataplane interface {
	SetClearPolicies(list []config.ClearPolicy) error
}

// Counters are the bytes and packets of one direction of a child SA and,
// inbound, the packets its anti-replay and integrity checks dropped.
type Counters struct {
	Bytes, Packets uint64
	// ReplayErrors and IntegrityErrors count the packets the dataplane
	// dropped by the anti-replay check and the ICV check (RFC 4303
	// §3.4.3, §3.4.4): inbound SAs only, zero for an outbound one.
	ReplayErrors, IntegrityErrors uint64
}

// Service is the IKE subsystem. Its methods are safe for concurrent use.
type Service struct {
	o   Options
	log *slog.Logger
	// cdp is the CRL cache of fetch-crl (cdp.go), made once.
	cdpOnce sync.Once
	cdp     *cdpCache

	mu      sync.Mutex
	eng     *engine.Engine
	conn    *switchConn
	bound   []netip.Addr        // addresses of conn's current sockets
	mobile  map[netip.Addr]bool // of bound, those for MOBIKE moves (mobike.go)
	cfg     *config.Config
	started bool       // cfg is the running configuration's (Start ran)
	locals  localAddrs // the local addresses of cfg's VPNs
	pending map[uint64]*prepared
	ctx     context.Context
	aaa     *aaa // the RADIUS client (aaa.go)
	cancel  context.CancelFunc

	// mon is the VPN monitor (vpnmon.go), nil without NewProber.
	mon *vpnMonitor

	wmu      sync.Mutex
	watchers map[chan engine.Event]bool

	stats stats
	work  commitWork

	// vmu guards pools (those last given to Options.Pools) and
	// installOn (global-options install-vip-on); a leaf lock, taken by
	// the engine's workers through vipAdapter (pools.go).
	vmu       sync.Mutex
	pools     []pool.Config
	installOn string
}

// prepared is what Prepare computed for one transaction.
type prepared struct {
	cfg *config.Config
	// full: every VPN was resolved again; else names are the VPNs the
	// commit resolved again or removed (the engine's ApplyConfig).
	full   bool
	names  []string
	locals localAddrs
	addrs  []netip.Addr
	opened map[netip.Addr]*udpconn.Conn // sockets of new addresses
	// reused are addresses whose sockets were draining and that this
	// configuration wants again.
	reused []netip.Addr
	// pools is the pool part; oldPools what Apply replaced (pools.go).
	pools, oldPools poolsPrepared
	// monitors are the vpn-monitor of the security policies, and
	// oldMonitors those Apply replaced (vpnmon.go).
	monitors, oldMonitors map[string]monitorPolicy
	// After Apply: what it replaced, for Abort. drained are the
	// addresses whose sockets it set draining.
	oldCfg    *config.Config
	oldLocals localAddrs
	oldAddrs  []netip.Addr
	drained   []netip.Addr
	applied   bool
}

// drainPoll and drainMax bound how long the sockets of a local address
// that no VPN uses any more stay open: until no IKE SA is on the
// address (the DELETE exchanges of the removed VPNs' SAs go out and
// their answers come back on them), and at most drainMax, so that a peer
// that never answers does not keep them open for ever.
const (
	drainPoll = 200 * time.Millisecond
	drainMax  = 30 * time.Second
)

// New returns a Service with an empty configuration. The daemon calls
// Start with the running configuration, then subscribes it to the
// datastore.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.VRF == "" {
		o.VRF = VRF
	}
	if o.InVRF == nil {
		o.InVRF = func(fn func() error) error { return fn() }
	}
	if o.HostAddrs == nil {
		o.HostAddrs = func() (out []netip.Addr) {
			_ = o.InVRF(func() error { out = hostAddrs(); return nil })
			return out
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{o: o, log: o.Logger.With("subsystem", "manager", "vrf", o.VRF), pending: map[uint64]*prepared{},
		ctx: ctx, cancel: cancel, cfg: &config.Config{}}
	s.conn = newSwitchConn()
	s.conn.tcp = s.newMux()
	s.watchers = map[chan engine.Event]bool{}
	dp := o.Dataplane
	if o.Activity != nil {
		dp = withActivity(dp, o.Activity)
	}
	s.aaa = newAAA(ctx, o.Logger.With("subsystem", "ike"), o.Counters) // aaa.go
	s.eng = engine.New(engine.Options{VRF: o.VRF, Conn: s.conn, Dataplane: dp, Logger: o.Logger, Events: s.onEvent,
		ForceEncap: o.ForceEncap, LogKeys: o.LogKeys, SupportsESP: o.SupportsESP, MOBIKEPath: s.mobikePath, MOBIKEAddrs: s.mobikeAddrs,
		VIPs: vipAdapter{s}, AAA: s.aaa, OnDebug: o.OnDebug})
	go s.aaa.interim(s.eng.AcctInterim, time.Tick(time.Second)) // aaa.go
	go s.eng.Run(ctx)
	if o.NewProber != nil {
		s.mon = s.newVPNMonitor(ctx, o.NewProber)
	}
	return s
}

// VRF names the vrf the Service runs (Options.VRF).
func (s *Service) VRF() string { return s.o.VRF }

// Engine returns the engine of the Service's vrf.
func (s *Service) Engine() *engine.Engine { return s.eng }

// Close stops the engine and closes the sockets.
func (s *Service) Close() error {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn.closeAll()
	return nil
}

// Name implements datastore.Subscriber.
func (s *Service) Name() string { return "ike" }

// Prepare implements datastore.Subscriber.
func (s *Service) Prepare(tx *datastore.Tx) error {
	var ike *generated.SecgwVrf_Vrf_Ike
	for name, v := range tx.New.Vrf {
		if v.Ike == nil {
			continue
		}
		if name != s.o.VRF {
			if s.o.VRF == VRF && !s.o.OtherVRFsRun && len(v.Ike.Vpn) > 0 {
				s.log.Warn("IKE runs in vrf main only in this release: the VPNs of this vrf are not run", "vrf", name)
			}
			continue
		}
		ike = v.Ike
	}
	if ike != nil && ike.Enabled != nil && !*ike.Enabled {
		// ike enabled false: the vrf runs no IKE; its SAs are deleted
		// like those of removed VPNs, and its sockets drain.
		ike = nil
	}
	s.mu.Lock()
	prev, started, locals := s.cfg, s.started, s.locals
	s.mu.Unlock()
	// The commit's changes say which VPNs to resolve again; without
	// them (the start, a test's transaction) everything is.
	ch := resolve.Changes{All: true}
	if started {
		ch = ChangesOfVRF(s.o.VRF, tx)
	}
	r, err := resolve.Update(prev, ike, ch)
	if err != nil {
		return fmt.Errorf("ike: %w", err)
	}
	s.work.resolved.Add(uint64(r.Resolved))
	cfg := r.Config
	// fresh are the VPNs resolved by this commit: new values, which
	// nothing else holds yet.
	var fresh []*config.VPN
	if r.Full {
		fresh = cfg.VPNs
	} else {
		for _, n := range r.Names {
			if v := cfg.VPN(n); v != nil && v != prev.VPN(n) {
				fresh = append(fresh, v)
			}
		}
	}
	var prevPKI *config.PKI
	if prev != nil {
		prevPKI = prev.PKI
	}
	if err := s.preparePKI(ike, cfg, prevPKI, fresh); err != nil { // pki.go
		return err
	}
	if err := s.supported(cfg, fresh); err != nil {
		return err
	}
	if err := s.supportedTCP(cfg, fresh); err != nil {
		return err
	}
	monitors, err := s.monitorPolicies(ike, prev, r) // vpnmon.go
	if err != nil {
		return err
	}
	pools, err := s.preparePools(ike, cfg, fresh)
	if err != nil {
		return err
	}
	if err := s.aaa.prepare(tx.ID, ike, fresh); err != nil { // aaa.go
		return err
	}
	for _, v := range fresh {
		for _, w := range v.Warnings {
			s.log.Warn(w, "vpn", v.Name)
		}
		if v.Initiator() && !v.LocalAddr.IsValid() {
			v.LocalAddr = s.sourceAddr(v.RemoteAddr)
		}
	}
	if r.Full {
		locals = countLocals(cfg.VPNs)
	} else {
		locals = locals.clone()
		for _, n := range r.Names {
			locals.add(prev.VPN(n), -1)
			locals.add(cfg.VPN(n), 1)
		}
	}
	if s.o.CheckOnly {
		return s.keepCheck(tx, &prepared{cfg: cfg, full: r.Full, names: r.Names, locals: locals, pools: pools})
	}
	p := &prepared{cfg: cfg, full: r.Full, names: r.Names, locals: locals, pools: pools, monitors: monitors,
		addrs: locals.want(s.o.HostAddrs), opened: map[netip.Addr]*udpconn.Conn{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finalize()
	p.addrs = s.withMobile(p.addrs) // mobike.go
	for _, a := range p.addrs {
		if slices.Contains(s.bound, a) {
			continue
		}
		if s.conn.isDraining(a) {
			// Taken back now, under s.mu, not at Apply: a drain that
			// ran in between would close the sockets this commit
			// counts on (the soak saw "no socket" after a confirmed
			// commit's rollback re-added a VPN). Abort drains them
			// again.
			s.conn.setDraining(a, false)
			p.reused = append(p.reused, a)
			continue
		}
		// FreeBind: a configured local address the host does not hold
		// yet (an HA pair's VRRP address, which keepalived moves to
		// this node at a takeover) is bound now and receives once it
		// arrives, with no ip_nonlocal_bind sysctl and no new commit.
		c, err := s.listen(udpconn.Options{Addrs: []netip.Addr{a}, PortIKE: s.o.PortIKE, PortNATT: s.o.PortNATT,
			OnESP: s.o.OnESP, OnESPBorrow: s.o.OnESPBorrow, OnNATTSocket: s.o.OnNATTSocket, Logger: s.o.Logger, FreeBind: true,
			RecvBuffer: ikeSocketBuffer})
		if err != nil {
			// Not a reason to refuse the commit: the address may not be
			// usable yet. The next commit tries again.
			s.log.Warn("cannot open the IKE sockets of a local address", "addr", a, "err", err)
			continue
		}
		p.opened[a] = c
	}
	bound := p.addrs[:0:0]
	for _, a := range p.addrs {
		if slices.Contains(s.bound, a) || p.opened[a] != nil || slices.Contains(p.reused, a) {
			bound = append(bound, a)
		}
	}
	p.addrs = bound
	s.pending[tx.ID] = p
	return nil
}

// ikeSocketBuffer is the receive buffer of the IKE sockets. At an HA
// takeover every peer's retransmitted request (10k in make bench-ha)
// arrives within the same moment, a burst the default (rmem_default,
// about 200 KiB: a few hundred small datagrams at their kernel size)
// dropped most of, each drop a peer waiting for its next retransmission.
const ikeSocketBuffer = 8 << 20

// Apply implements datastore.Subscriber.
func (s *Service) Apply(tx *datastore.Tx) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.CheckOnly {
		return s.applyCheck(tx)
	}
	p := s.pending[tx.ID]
	if p == nil {
		return errors.New("ike: apply without prepare")
	}
	p.oldCfg, p.oldAddrs, p.oldLocals = s.cfg, s.bound, s.locals
	s.vmu.Lock()
	p.oldPools = poolsPrepared{pools: s.pools, installOn: s.installOn, changed: p.pools.changed}
	s.vmu.Unlock()
	if err := s.applyPools(p.pools); err != nil {
		return err // nothing else changed yet
	}
	s.aaa.apply(tx.ID) // aaa.go
	for _, a := range s.bound {
		// Removed sockets drain: the SAs on them are deleted by
		// setEngine below, with exchanges that need them.
		if !slices.Contains(p.addrs, a) && s.conn.setDraining(a, true) {
			p.drained = append(p.drained, a)
		}
	}
	for _, a := range p.reused {
		s.conn.setDraining(a, false)
	}
	for a, c := range p.opened {
		s.conn.add(a, c)
	}
	s.bound = p.addrs
	s.applyTCP(p.cfg)
	restart := p.oldCfg != nil && p.oldCfg.Global.InitiatorOnly != p.cfg.Global.InitiatorOnly
	s.cfg, s.locals, s.started = p.cfg, p.locals, true
	if s.mon != nil {
		s.mon.mu.Lock()
		p.oldMonitors = s.mon.policies
		s.mon.mu.Unlock()
		s.mon.set(p.monitors)
	}
	if restart {
		// The guide: changing initiator-only restarts the IKE daemon of
		// the vrf and so terminates all existing tunnels. The engine
		// keeps running; every IKE SA is deleted (the peers are told).
		s.log.Warn("initiator-only changed: terminating every tunnel of the vrf", "initiator-only", p.cfg.Global.InitiatorOnly)
		for _, sa := range s.eng.Snapshot(false) {
			_ = s.eng.DeleteIKEByUID(sa.UniqueID)
		}
	}
	if torn := s.setEngine(p, p.cfg); len(torn) > 0 {
		s.log.Info("configuration applied: SAs of changed VPNs deleted", "vpns", torn)
	}
	p.applied = true
	if err := s.setClear(p.oldCfg, p.cfg); err != nil {
		// Abort restores the previous configuration, its pass and drop
		// policies included: a drop policy that is not in place must
		// not look committed.
		return err
	}
	for _, a := range p.drained {
		go s.drain(a)
	}
	// p stays pending until the next Prepare makes it final: until then
	// an Abort may undo it.
	return nil
}

// drain closes the sockets of address a once no IKE SA is on it, or
// after drainMax, unless a commit took them back meanwhile.
func (s *Service) drain(a netip.Addr) {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	deadline := time.Now().Add(drainMax)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if !s.conn.isDraining(a) {
			return
		}
		if s.eng.UsesLocal(a) && time.Now().Before(deadline) {
			continue
		}
		s.mu.Lock()
		closed := s.conn.closeDrained(a)
		s.mu.Unlock()
		if closed {
			s.log.Info("IKE sockets of a local address no VPN uses closed", "addr", a)
		}
		return
	}
}

// Abort implements datastore.Subscriber.
func (s *Service) Abort(tx *datastore.Tx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.CheckOnly {
		s.abortCheck(tx)
		return
	}
	p := s.pending[tx.ID]
	delete(s.pending, tx.ID)
	s.aaa.abort(tx.ID) // aaa.go
	if p == nil {
		return
	}
	if !p.applied {
		for _, c := range p.opened {
			c.Close()
		}
		for _, a := range p.reused {
			s.conn.setDraining(a, true)
			go s.drain(a)
		}
		return
	}
	for a := range p.opened {
		s.conn.remove(a).Close()
	}
	for _, a := range p.drained {
		s.conn.setDraining(a, false)
	}
	for _, a := range p.reused {
		s.conn.setDraining(a, true)
		go s.drain(a)
	}
	s.bound = p.oldAddrs
	s.applyTCP(p.oldCfg)
	if err := s.applyPools(p.oldPools); err != nil {
		s.log.Error("the previous pools could not be restored", "err", err)
	}
	s.cfg, s.locals = p.oldCfg, p.oldLocals
	if s.mon != nil && p.oldMonitors != nil {
		s.mon.set(p.oldMonitors)
	}
	s.setEngine(p, p.oldCfg)
	if err := s.setClear(p.cfg, p.oldCfg); err != nil {
		s.log.Error("the previous pass and drop policies could not be restored", "err", err)
	}
}

// unsupported refuses a commit that asks for what the dataplane cannot
// do: its rpc-error tag is operation-not-supported, which the datastore
// gives the refused commit (datastore.ErrorTagger).
func unsupported(msg string) error {
	return &rpcerr.Error{Type: rpcerr.TypeApplication, Tag: rpcerr.TagOperationNotSupported, Message: msg}
}

// finalize forgets the transactions applied so far; s.mu is held. Transactions never overlap, so a new Prepare means the
// previous ones are final.
func (s *Service) finalize() {
	for id := range s.pending {
		delete(s.pending, id)
	}
}

// Start applies the running configuration found at daemon start.
func (s *Service) Start(running *generated.Device) error {
	tx := &datastore.Tx{New: running, Old: &generated.Device{}}
	if err := s.Prepare(tx); err != nil {
		return err
	}
	return s.Apply(tx)
}

// listen opens IKE sockets inside the Service's vrf (Options.InVRF).
func (s *Service) listen(o udpconn.Options) (c *udpconn.Conn, err error) {
	if e := s.o.InVRF(func() error { c, err = udpconn.Listen(o); return nil }); e != nil {
		return nil, fmt.Errorf("ike: vrf %s: %w", s.o.VRF, e)
	}
	return c, err
}

// sourceAddr is sourceAddr inside the Service's vrf.
func (s *Service) sourceAddr(dst netip.Addr) (a netip.Addr) {
	_ = s.o.InVRF(func() error { a = sourceAddr(dst); return nil })
	return a
}

// hostAddrs returns the host's global unicast addresses.
func hostAddrs() []netip.Addr {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ifa := range ifas {
		if p, err := netip.ParsePrefix(ifa.String()); err == nil && p.Addr().IsGlobalUnicast() {
			out = append(out, p.Addr())
		}
	}
	return out
}

// sourceAddr is the address the host would send from to reach dst (a
// connected UDP socket sends nothing), or the invalid Addr.
func sourceAddr(dst netip.Addr) netip.Addr {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, engine.PortIKE)))
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}

// onEvent fans an engine event out to the watchers (RPCs waiting for an
// outcome) and to Options.OnEvent. A watcher that is not keeping up loses
// events rather than stalling the engine.
func (s *Service) onEvent(ev engine.Event) {
	s.stats.count(ev)
	s.mon.childGone(ev) // verifypath.go
	s.wmu.Lock()
	for w := range s.watchers {
		select {
		case w <- ev:
		default:
		}
	}
	s.wmu.Unlock()
	if s.o.OnEvent != nil {
		s.o.OnEvent(ev)
	}
}

func (s *Service) watch() chan engine.Event {
	w := make(chan engine.Event, 64)
	s.wmu.Lock()
	s.watchers[w] = true
	s.wmu.Unlock()
	return w
}

func (s *Service) unwatch(w chan engine.Event) {
	s.wmu.Lock()
	delete(s.watchers, w)
	s.wmu.Unlock()
}

// NATTSocket returns the IKE NAT-T (port 4500) socket of local address
// a, or nil when a has none. A commit that removes a closes it and one
// that adds a back opens a new one: callers look it up again rather than
// keep it. They may send on it (the userspace dataplane's batched ESP)
// but must not read from it or close it.
func (s *Service) NATTSocket(a netip.Addr) *net.UDPConn { return s.conn.nattSocket(a) }

// SendESP sends an ESP-in-UDP datagram from the IKE NAT-T socket of its
// local address (the userspace dataplane shares port 4500 with IKE).
func (s *Service) SendESP(d engine.Datagram) error { return s.conn.sendESP(d) }
