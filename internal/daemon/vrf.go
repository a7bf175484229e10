package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"secgw/generated"
	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/datastore"
	"secgw/internal/edge"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ikesvc"
	"secgw/internal/netconf"
	"secgw/internal/netnsutil"
	"secgw/internal/routes"
)

// NetnsDir is where ip netns keeps the named network namespaces: vrf
// NAME other than main is the namespace bound at NetnsDir/NAME, as on
// the vSR.
const NetnsDir = "/run/netns"

// vrfPollEvery is how often the vrfs look for namespaces that appeared,
// vanished or were replaced (ip netns del and add): a poll of a few
// stat calls rather than inotify, which sees neither a bind mount made
// on an existing file nor its unmount.
const vrfPollEvery = time.Second

// vrfs runs the ike containers of the vrfs other than main, one
// vrfInstance each (its own engine, sockets, SA table, dataplane and
// routes, all inside the vrf's namespace: the kernel XFRM dataplane when
// main runs it, else the userspace one). It subscribes
// to the datastore after the IKE service of main: a commit's delta goes
// to every instance, each of which reads only its own vrf's changes
// (ikesvc.ChangesOfVRF), so a commit in vrf A never touches vrf B's SAs.
// A configured vrf whose namespace is missing is logged, reported
// (missing) and opened by the poll once the namespace appears; one whose
// namespace goes away is closed (its SAs go down with it) and waits for
// it to come back. Commits are never refused for a missing namespace.
type vrfs struct {
	d   *Daemon
	dir string
	log *slog.Logger

	// mu guards everything below and serialises commits with the poll.
	mu      sync.Mutex
	running *generated.Device
	inst    map[string]*vrfInstance
	missing map[string]bool // configured vrfs without their namespace
	checks  vrfChecks       // of the vrfs without an instance (vrf_check.go)
	stop    chan struct{}
	done    chan struct{}
}

// vrfInstance is the IKE subsystem of one vrf other than main.
type vrfInstance struct {
	name string
	log  *slog.Logger
	ns   netns.NsHandle
	id   fileID // the namespace file it was opened from
	dp   dataplane.Dataplane
	us   *userspace.Dataplane // nil with the fake and kernel dataplanes
	// kernel is set when dp is the kernel XFRM dataplane of the vrf's
	// namespace (main runs the kernel dataplane).
	kernel bool
	rt     *routing // nil with the fake dataplane
	spd    *spdHash // with the kernel dataplane
	ike    *ikesvc.Service
	host   vrfHost // pools and virtual IPs (vrf_host.go)
}

// fileID identifies the namespace bound at a path: ip netns del and add
// make a new namespace under the same name.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, true
}

// netnsDir is Config.NetnsDir or its default.
func (d *Daemon) netnsDir() string {
	if d.cfg.NetnsDir != "" {
		return d.cfg.NetnsDir
	}
	return NetnsDir
}

func newVRFs(d *Daemon, dir string) *vrfs {
	return &vrfs{d: d, dir: dir, log: d.cfg.Logger.With("subsystem", "daemon"), inst: map[string]*vrfInstance{},
		missing: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// wanted are the vrfs other than main whose ike container runs.
func wantedVRFs(dev *generated.Device) []string {
	var out []string
	if dev == nil {
		return nil
	}
	for name, v := range dev.Vrf {
		if name == ikesvc.VRF || v.Ike == nil || (v.Ike.Enabled != nil && !*v.Ike.Enabled) {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// start opens the vrfs of running and starts the poll.
func (v *vrfs) start(running *generated.Device) {
	v.mu.Lock()
	v.running = running
	v.reconcile()
	v.mu.Unlock()
	go v.poll()
}

func (v *vrfs) poll() {
	defer close(v.done)
	t := time.NewTicker(vrfPollEvery)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			v.mu.Lock()
			v.reconcile()
			v.mu.Unlock()
		}
	}
}

// reconcile opens the instances of configured vrfs whose namespace is
// there and closes those no longer configured or whose namespace went
// away or was replaced. Guarded by mu.
func (v *vrfs) reconcile() {
	want := map[string]bool{}
	for _, name := range wantedVRFs(v.running) {
		want[name] = true
	}
	for name, in := range v.inst {
		id, ok := statID(filepath.Join(v.dir, name))
		flush := false
		switch {
		case !want[name]:
			v.log.Info("vrf no longer runs IKE: instance closed", "vrf", name)
			// Its namespace stays: the kernel SAs and policies it
			// installed there go with it.
			flush = ok && id == in.id
		case !ok || id != in.id:
			v.log.Warn("vrf namespace gone: its IKE instance is closed until it is back", "vrf", name,
				"namespace", filepath.Join(v.dir, name))
		default:
			continue
		}
		in.close(flush)
		delete(v.inst, name)
	}
	for name := range v.missing {
		if !want[name] {
			delete(v.missing, name)
		}
	}
	for name := range want {
		if v.inst[name] != nil {
			continue
		}
		in, err := v.open(name)
		if err != nil {
			if !v.missing[name] {
				v.log.Warn("vrf not run: its namespace is missing or unusable; it starts when the namespace appears",
					"vrf", name, "err", err)
			}
			v.missing[name] = true
			continue
		}
		if err := in.ike.Start(v.running); err != nil {
			v.log.Error("vrf: IKE could not apply the running configuration", "vrf", name, "err", err)
		}
		if v.missing[name] {
			v.log.Info("vrf namespace appeared: IKE instance started", "vrf", name)
		}
		delete(v.missing, name)
		v.inst[name] = in
	}
	v.syncChecks(want)
}

// open builds the instance of vrf name inside its namespace.
func (v *vrfs) open(name string) (_ *vrfInstance, err error) {
	path := filepath.Join(v.dir, name)
	id, ok := statID(path)
	if !ok {
		return nil, fmt.Errorf("daemon: vrf %s: no namespace %s", name, path)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("daemon: vrf %s: %w", name, err)
	}
	in := &vrfInstance{name: name, ns: ns, id: id, log: v.d.cfg.Logger.With("subsystem", "daemon", "vrf", name)}
	defer func() {
		if err != nil {
			in.close(false)
		}
	}()
	d := v.d
	logger := d.cfg.Logger.With("vrf", name)
	enter := func(fn func() error) error { return netnsutil.Run(ns, fn) }
	tun := d.cfg.TUN
	if tun == "" {
		tun = DefaultTUN
	}
	switch {
	case d.cfg.Dataplane == DataplaneFake:
		in.dp = dataplane.NewFake()
	case d.kernel:
		// With main on the kernel dataplane, every vrf programs XFRM
		// in its own namespace: states, policies, acquires and expiries
		// through netlink sockets opened there.
		x, err := xfrm.New(xfrm.Options{NetNS: ns, Events: true, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("daemon: vrf %s: kernel dataplane: %w", name, err)
		}
		in.dp, in.kernel = x, true
		// The vrf's sp-hash thresholds, before IKE installs policies.
		in.spd = newSPDHash(x.SetSPDHash, logger)
		in.spd.vrf = name
		in.spd.start(v.running)
		if err := in.openRouting(v.dir, "", logger); err != nil {
			return nil, err
		}
	default:
		// With main on the userspace dataplane, so is the vrf: its TUN
		// device and routes live in the vrf's namespace, its ESP goes
		// through the vrf's IKE sockets.
		bind := &ikeBind{ike: func() *ikesvc.Service { return in.ike }, ikePort: d.cfg.IKEPort, nattPort: d.cfg.NATTPort,
			binds: map[netip.Addr]sendBind{}}
		var devs []edge.Device
		if err := enter(func() error {
			var err error
			devs, err = openTUN(tun)
			return err
		}); err != nil {
			return nil, fmt.Errorf("daemon: vrf %s: userspace dataplane: %w", name, err)
		}
		_ = netnsutil.Sysctl(ns, "net/ipv4/conf/"+tun+"/rp_filter", "0")
		us, err := userspace.New(userspace.Options{TUN: devs, Bind: bind, MTU: 1500,
			InboundWorkers: d.cfg.ESPWorkers, Logger: logger})
		if err != nil {
			for _, dev := range devs {
				dev.Close()
			}
			return nil, fmt.Errorf("daemon: vrf %s: userspace dataplane: %w", name, err)
		}
		in.dp, in.us = us, us
		if err := in.openRouting(v.dir, tun, logger); err != nil {
			return nil, err
		}
	}
	if err := in.openHost(d.cfg.Dir, logger); err != nil {
		return nil, err
	}
	opts := &childOptions{cfg: func() *config.Config {
		if in.ike == nil {
			return nil
		}
		return in.ike.Engine().Config()
	}}
	prog := childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: in.dp, Options: opts.options, Logger: logger,
		NoFwd: in.us != nil, InTimeLimits: in.us != nil})
	var eng engine.Dataplane = prog
	kind := ""
	if in.rt != nil {
		eng, kind = newRoutedProgrammer(prog, in.rt, nil), in.dp.Kind()
	}
	onNATT := setESPBuffers
	if in.kernel {
		onNATT = func(c *net.UDPConn) error { return xfrm.EnableESPInUDP(c) }
	}
	var supportsESP func(ikecrypto.Suite) bool
	if s, ok := in.dp.(engine.ESPSupport); ok {
		supportsESP = s.SupportsESP
	}
	in.ike = ikesvc.New(ikesvc.Options{
		VRF:   name,
		InVRF: enter,
		// The engine and the manager name the vrf themselves.
		Logger:        d.cfg.Logger,
		Dataplane:     eng,
		DataplaneKind: kind,
		OnESPBorrow:   in.onESP,
		PortIKE:       d.cfg.IKEPort,
		PortNATT:      d.cfg.NATTPort,
		Counters:      in.counters,
		OnEvent:       func(ev engine.Event) { d.onIKEEventIn(name, ev) },
		OnSAEvent:     func(e ikesvc.SAEvent) { e.VRF = name; d.onSAEvent(e) },
		OnDebug:       func(r engine.DebugRecord) { d.onIKEDebugIn(name, r) },
		ForceEncap:    in.us != nil,
		OnNATTSocket:  onNATT,
		LogKeys:       d.cfg.LogKeys,
		PKIDir:        filepath.Join(d.cfg.Dir, "pki"),
		// The userspace dataplane has no XFRM interfaces; the kernel's
		// binds SAs and policies to the if_id of svti-id-in/out in the
		// vrf's namespace, whatever namespace the interface was moved to.
		NoIfID:       !in.kernel,
		SupportsESP:  supportsESP,
		TCPStreams:   in.us != nil,
		OtherVRFsRun: true,
		Activity:     activityOf(in.dp),
		Pools:        in.host.pools,
		VIPHost:      in.host.vips,
	})
	if in.rt != nil {
		in.rt.start(v.running)
	}
	go func() {
		for ev := range in.dp.Events() {
			in.ike.DataplaneEvent(ev)
		}
	}()
	return in, nil
}

// openRouting opens the routing of the instance's namespace (tun is the
// userspace dataplane's TUN device, "" with the kernel dataplane); its
// inject-routes reach other vrfs' namespaces under dir.
func (in *vrfInstance) openRouting(dir, tun string, logger *slog.Logger) error {
	nl, err := routes.NewNetlink(in.ns)
	if err != nil {
		return fmt.Errorf("daemon: vrf %s: %w", in.name, err)
	}
	in.rt = newRoutingIn(nl, tun, logger, in.name, newVRFRouting(dir))
	in.rt.os = nl
	return nil
}

// openTUN creates and sets up the userspace dataplane's TUN device in
// the calling thread's namespace (vrf main's and every other vrf's).
func openTUN(name string) ([]edge.Device, error) {
	devs, err := edge.CreateOffloadTUN(name, tunQueues)
	if err != nil {
		return nil, err
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetMTU(link, tunMTU)
	}
	if err == nil {
		// A TUN device starts with txqueuelen 500; a burst of TCP
		// super-segments overruns it.
		err = netlink.LinkSetTxQLen(link, 1000)
	}
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		for _, dev := range devs {
			dev.Close()
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return devs, nil
}

// onESP is Daemon.onESP for the instance's dataplane.
func (in *vrfInstance) onESP(local, remote netip.AddrPort, data []byte) {
	if in.us == nil {
		return
	}
	if data == nil {
		in.us.FlushESP()
		return
	}
	in.us.HandleESPBatched(local, remote, data)
}

// counters is Daemon.childCounters for the instance's dataplane.
func (in *vrfInstance) counters(c engine.ChildSA) (i, o ikesvc.Counters) {
	return childCountersOf(in.dp, c)
}

// close stops the instance: engine and sockets, dataplane (its TUN),
// routes, and the namespace handle (the last reference of a namespace
// ip netns del removed). With flush, the kernel dataplane's SAs and
// policies (those of secgw's reqids) are deleted first.
func (in *vrfInstance) close(flush bool) {
	if in.ike != nil {
		_ = in.ike.Close()
	}
	if flush && in.kernel {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := dataplane.NewReconciler(in.dp, nil).Reconcile(ctx, dataplane.State{}); err != nil {
			in.log.Warn("vrf: kernel SAs and policies not all removed", "err", err)
		}
		cancel()
	}
	if in.dp != nil {
		_ = in.dp.Close()
	}
	if in.rt != nil {
		in.rt.close()
	}
	in.host.close()
	_ = in.ns.Close()
}

// close closes every instance.
func (v *vrfs) close() {
	close(v.stop)
	<-v.done
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, in := range v.inst {
		in.close(false)
		delete(v.inst, name)
	}
	v.syncChecks(nil)
}

// service is the IKE service of vrf name, or an error naming why not.
func (v *vrfs) service(name string) (*ikesvc.Service, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if in := v.inst[name]; in != nil {
		return in.ike, nil
	}
	if v.missing[name] {
		return nil, fmt.Errorf("daemon: vrf %s: its namespace %s is missing", name, filepath.Join(v.dir, name))
	}
	return nil, fmt.Errorf("daemon: vrf %s runs no IKE", name)
}

// state adds the state of each instance's vrf to dev, as main's:
// statistics the service does not count (fillStatistics), and the
// diagnostics of its dataplane when asked for.
func (v *vrfs) state(dev *generated.Device, r netconf.StateRequest) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, in := range v.inst {
		n := name
		ike := in.ike.State(r.Secrets)
		ike.Namespace = generated.SecgwVrf_Vrf_Ike_Namespace_present
		fillStatistics(ike, in.ike, in.us, kernelOf(in.dp))
		if r.Wants("vrf", "ike", "diagnostics") {
			ike.Diagnostics = diagnosticsOf(in.dp)
		}
		dev.Vrf[n] = &generated.SecgwVrf_Vrf{Name: &n, Ike: ike}
	}
	for name := range v.missing {
		n := name
		dev.Vrf[n] = &generated.SecgwVrf_Vrf{Name: &n,
			Ike: &generated.SecgwVrf_Vrf_Ike{Namespace: generated.SecgwVrf_Vrf_Ike_Namespace_missing}}
	}
}

// Name implements datastore.Subscriber.
func (v *vrfs) Name() string { return "vrfs" }

// Prepare implements datastore.Subscriber: every running instance
// prepares the commit (each reads only its vrf's changes), and the vrfs
// that run no instance yet (added by the commit, or whose namespace is
// missing) are checked by their checker (vrf_check.go), so that what
// their instance would refuse (svti-id-in/out without the kernel
// dataplane, an ESP suite the userspace dataplane lacks) is refused now
// rather than ignored when it starts, and nothing it would accept is
// refused.
func (v *vrfs) Prepare(tx *datastore.Tx) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checks.prepared = nil
	for _, name := range wantedVRFs(tx.New) {
		if v.inst[name] == nil {
			if err := v.prepareCheck(name, tx); err != nil {
				v.abortChecks(tx)
				return err
			}
		}
	}
	var done []*vrfInstance
	for _, in := range v.inst {
		if err := in.prepare(tx); err != nil {
			for _, p := range done {
				p.abort(tx)
			}
			v.abortChecks(tx)
			return fmt.Errorf("vrf %s: %w", in.name, err)
		}
		done = append(done, in)
	}
	return nil
}

// Apply implements datastore.Subscriber, then opens the vrfs the commit
// added and closes those it removed.
func (v *vrfs) Apply(tx *datastore.Tx) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	var errs []error
	for _, in := range v.inst {
		if err := in.ike.Apply(tx); err != nil {
			errs = append(errs, fmt.Errorf("vrf %s: %w", in.name, err))
		}
		if in.rt != nil {
			if err := in.rt.Apply(tx); err != nil {
				errs = append(errs, fmt.Errorf("vrf %s: %w", in.name, err))
			}
		}
		if in.spd != nil {
			if err := in.spd.Apply(tx); err != nil {
				errs = append(errs, fmt.Errorf("vrf %s: %w", in.name, err))
			}
		}
	}
	v.applyChecks(tx)
	v.running = tx.New
	v.reconcile()
	return errors.Join(errs...)
}

// Abort implements datastore.Subscriber.
func (v *vrfs) Abort(tx *datastore.Tx) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, in := range v.inst {
		in.abort(tx)
	}
	v.abortChecks(tx)
}

func (in *vrfInstance) prepare(tx *datastore.Tx) error {
	if err := in.ike.Prepare(tx); err != nil {
		return err
	}
	if in.rt != nil {
		if err := in.rt.Prepare(tx); err != nil {
			in.ike.Abort(tx)
			return err
		}
	}
	if in.spd != nil {
		if err := in.spd.Prepare(tx); err != nil {
			if in.rt != nil {
				in.rt.Abort(tx)
			}
			in.ike.Abort(tx)
			return err
		}
	}
	return nil
}

func (in *vrfInstance) abort(tx *datastore.Tx) {
	if in.spd != nil {
		in.spd.Abort(tx)
	}
	if in.rt != nil {
		in.rt.Abort(tx)
	}
	in.ike.Abort(tx)
}
