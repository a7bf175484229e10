package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"secgw/internal/ipsec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"

	"secgw/generated"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/ikesvc"
	"secgw/internal/routes"
)

// routing is the daemon's route manager (internal/routes) with the kernel
// or userspace dataplane: routedProgrammer tells it of each child SA, and
// it subscribes to the datastore so that a commit of install-routes,
// routing-table, routing-table-prio or a security policy's inject-routes
// applies live (a subscriber of its own rather than a hook in ikesvc: the
// route options are not the engine's business, and the two subsystems
// then prepare, apply and abort independently).
//
// It also reconciles every routeReconcileEvery: the kernel deletes routes
// by itself (a device going down, the preferred source address removed)
// and the next hop to a peer changes; charon follows routing events for
// that, a periodic reconcile is the simple form.
type routing struct {
	// vrf is the vrf whose ike container's route options this routing
	// follows ("" is main); its routes live in that vrf's namespace.
	vrf string
	m   *routes.Manager
	// others is the routing of the other vrfs inject-routes names (nil
	// in tests without namespaces).
	others *vrfRouting
	os     *routes.Netlink // nil with another OS (tests)
	log    *slog.Logger
	every  time.Duration
	stop   chan struct{} // closed by close
	done   chan struct{} // made by start, closed when its loop ends

	// vpnsRead counts the VPNs whose route options commits read (the
	// work of a commit, for tests).
	vpnsRead atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]*routeTx
	// clear are the pass and drop policies told to the manager, by
	// policy (setClear; guarded by mu).
	clear map[config.PolicyRef]routes.Child

	// holdMu guards holding and held: while an HA takeover installs its
	// child SAs (hold), their routes wait in held, in order, so that
	// the engine answers its peers' liveness checks first; a child SA
	// removed meanwhile leaves held without ever getting its routes.
	holdMu  sync.Mutex
	holding bool
	held    []routes.Child

	// wait holds the trap routes of the security policies whose child
	// SAs wait for datapath verification (verifyroutes.go).
	wait waitRoutes
}

// hold keeps back the routes of the child SAs installed from now on and
// returns what installs them (an HA takeover: SetRole). The routes steer
// the protected sites' traffic into the tunnels; they follow the SAs by
// the time of the batch (tens of milliseconds at 10k), while the IKE SAs
// already answer.
func (r *routing) hold() (release func()) {
	r.holdMu.Lock()
	r.holding = true
	r.holdMu.Unlock()
	return func() {
		r.holdMu.Lock()
		defer r.holdMu.Unlock()
		held := r.held
		r.holding, r.held = false, nil
		if err := r.m.AddAll(held); err != nil {
			r.log.Debug("routes: child SAs installed without all their routes", "children", len(held), "err", err)
		}
	}
}

// add installs the routes of child SAs, or holds them back (hold).
func (r *routing) add(cs []routes.Child) {
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
	if r.holding {
		r.held = append(r.held, cs...)
		return
	}
	if err := r.m.AddAll(cs); err != nil {
		// The SAs are up; a missing route is the host's (logged by the
		// manager, retried by the next reconcile), not a reason to fail
		// the child SA.
		r.log.Debug("routes: child SAs installed without all their routes", "children", len(cs), "err", err)
	}
}

// remove removes the routes of a child SA, or forgets them if held.
func (r *routing) remove(c routes.Child) {
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
	if r.holding {
		if i := slices.IndexFunc(r.held, func(h routes.Child) bool { return h.InSPI == c.InSPI && h.Local == c.Local }); i >= 0 {
			r.held = slices.Delete(r.held, i, i+1)
			return
		}
	}
	if err := r.m.Remove(c); err != nil {
		r.log.Warn("routes: cannot remove a child SA's routes", "vpn", c.VPN, "policy", c.Policy, "err", err)
	}
}

// routeReconcileEvery is the period of routing's reconcile.
const routeReconcileEvery = 30 * time.Second

// routeTx is a commit between Prepare and its end.
type routeTx struct {
	cfg, old config.Routes
	applied  bool
}

// openRouting opens the host's routing (this process's network
// namespace) for a dataplane; tun is the userspace dataplane's TUN
// device, "" for the kernel dataplane.
func (d *Daemon) openRouting(tun string) error {
	nl, err := routes.NewNetlink(netns.None())
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.routes = newRoutingIn(nl, tun, d.mainLogger(), ikesvc.VRF, newVRFRouting(d.netnsDir()))
	d.routes.os = nl
	return nil
}

func newRouting(os routes.OS, tun string, logger *slog.Logger) *routing {
	return newRoutingIn(os, tun, logger, "", nil)
}

// newRoutingIn is newRouting for the IKE instance of vrf, whose
// inject-routes vrf reach the other vrfs through others (may be nil).
func newRoutingIn(os routes.OS, tun string, logger *slog.Logger, vrf string, others *vrfRouting) *routing {
	log := logger.With("subsystem", "kernel")
	o := routes.Options{OS: os, TUN: tun, Logger: log, VRF: vrf}
	if others != nil {
		o.OSOf = others.os
	}
	return &routing{m: routes.New(o), log: log, vrf: vrf, others: others,
		every: routeReconcileEvery, stop: make(chan struct{}),
		pending: map[uint64]*routeTx{}}
}

// routesOf is the route configuration of vrf main's IKE in dev.
func routesOf(dev *generated.Device) config.Routes { return resolve.Routes(ikeOf(dev)) }

// ikeOf is the ike container of vrf main in dev, or nil.
func ikeOf(dev *generated.Device) *generated.SecgwVrf_Vrf_Ike { return ikeOfVRF(ikesvc.VRF, dev) }

// ikeOfVRF is the ike container of vrf in dev, or nil.
func ikeOfVRF(vrf string, dev *generated.Device) *generated.SecgwVrf_Vrf_Ike {
	if dev != nil && dev.Vrf[vrf] != nil {
		return dev.Vrf[vrf].Ike
	}
	return nil
}

// vrfName is r's vrf, main when unset.
func (r *routing) vrfName() string {
	if r.vrf == "" {
		return ikesvc.VRF
	}
	return r.vrf
}

// start applies the running configuration, removes what a previous run
// left, installs the rules and starts the periodic reconcile. Failures
// are the host's (logged): the daemon serves on, and the next commit or
// reconcile retries.
func (r *routing) start(running *generated.Device) {
	if err := r.m.SetConfig(resolve.Routes(ikeOfVRF(r.vrfName(), running))); err != nil {
		r.log.Warn("routes: cannot apply the running configuration", "err", err)
	}
	if err := r.m.Start(); err != nil {
		r.log.Warn("routes: start", "err", err)
	}
	r.done = make(chan struct{})
	go r.reconcileLoop()
}

func (r *routing) reconcileLoop() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if err := r.m.Reconcile(); err != nil {
				r.log.Debug("routes: reconcile", "err", err)
			}
		}
	}
}

// close stops the reconcile and removes every route and rule of ours.
func (r *routing) close() {
	close(r.stop)
	if r.done != nil {
		<-r.done
	}
	if err := r.m.Close(); err != nil {
		r.log.Warn("routes: cannot remove every route at shutdown", "err", err)
	}
	if r.os != nil {
		r.os.Close()
	}
	if r.others != nil {
		r.others.close()
	}
}

// Name implements datastore.Subscriber.
func (r *routing) Name() string { return "routes" }

// Prepare implements datastore.Subscriber: the route options cannot be
// refused (the schema checks their ranges), so it only resolves them.
func (r *routing) Prepare(tx *datastore.Tx) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.pending) // transactions never overlap: earlier ones are final
	// Only the security policies of the VPNs the commit changed are
	// read again (tx.Old is still the running configuration).
	cfg, n := resolve.UpdateRoutes(r.m.Config(), ikeOfVRF(r.vrfName(), tx.Old), ikeOfVRF(r.vrfName(), tx.New),
		ikesvc.ChangesOfVRF(r.vrfName(), tx))
	r.vpnsRead.Add(uint64(n))
	r.pending[tx.ID] = &routeTx{cfg: cfg}
	return nil
}

// Apply implements datastore.Subscriber. A route the host refuses does
// not fail the commit: it is logged, and retried by the next reconcile.
func (r *routing) Apply(tx *datastore.Tx) error {
	r.mu.Lock()
	p := r.pending[tx.ID]
	r.mu.Unlock()
	if p == nil {
		return errors.New("routes: apply without prepare")
	}
	p.old, p.applied = r.m.Config(), true
	if err := r.m.SetConfig(p.cfg); err != nil {
		r.log.Warn("routes: configuration applied with errors", "err", err)
	}
	return nil
}

// Abort implements datastore.Subscriber: an applied configuration is
// undone.
func (r *routing) Abort(tx *datastore.Tx) {
	r.mu.Lock()
	p := r.pending[tx.ID]
	delete(r.pending, tx.ID)
	r.mu.Unlock()
	if p == nil || !p.applied {
		return
	}
	if err := r.m.SetConfig(p.old); err != nil {
		r.log.Warn("routes: previous configuration restored with errors", "err", err)
	}
}

// routedProgrammer is the engine's dataplane with routes: the
// programmer, plus the routes of each child SA it installs (added after
// its SAs and policies, removed before them).
type routedProgrammer struct {
	*childsa.Programmer
	routes *routing
	// verify, if set, is the IKE service's datapath verification: the
	// routes of a new child SA it withholds (ikesvc.Service.
	// WithholdRoutes) are installed later, by routing.monitorRoutes,
	// once an echo through the child SA was answered.
	verify verifier
	// installs and deletes gather concurrent installs and deletes into
	// batches (childGroup); nil applies each child SA alone.
	installs, deletes *childGroup
}

// newRoutedProgrammer returns the routed programmer of prog and rt with
// its group commits; verify may be nil.
func newRoutedProgrammer(prog *childsa.Programmer, rt *routing, verify verifier) routedProgrammer {
	return routedProgrammer{Programmer: prog, routes: rt, verify: verify, installs: &childGroup{}, deletes: &childGroup{}}
}

// verifier is what routedProgrammer asks the IKE service (ikesvc's
// verifypath.go).
type verifier interface {
	WithholdRoutes(c engine.ChildSA) bool
	RoutesWithheld(c engine.ChildSA) bool
}

// InstallChild implements engine.Dataplane: with a group, in one batch
// with the installs that arrive while another batch is applied.
func (p routedProgrammer) InstallChild(c engine.ChildSA) error {
	if p.installs != nil {
		return p.installs.do(c, p.installBatch)
	}
	return p.installBatch([]engine.ChildSA{c})[0]
}

// installBatch installs cs (one Apply when more than one), then routes
// those installed, but for the routes datapath verification withholds.
// It returns an error for each child SA (never nil: childGroup and
// InstallChild index it).
func (p routedProgrammer) installBatch(cs []engine.ChildSA) []error {
	var errs []error
	if len(cs) == 1 {
		// Alone: as InstallChild always did (its error, its log).
		errs = []error{p.Programmer.InstallChild(cs[0])}
	} else {
		errs = p.Programmer.InstallChildren(cs)
	}
	if errs == nil {
		errs = make([]error, len(cs))
	}
	rs := make([]routes.Child, 0, len(cs))
	for i, c := range cs {
		if errs[i] != nil {
			continue
		}
		if p.verify != nil && p.verify.WithholdRoutes(c) {
			p.routes.withhold(childOf(c))
			continue
		}
		rs = append(rs, childOf(c))
	}
	if len(rs) > 0 {
		p.routes.add(rs)
	}
	return errs
}

// DeleteChild implements engine.Dataplane: with a group, in one batch
// with the deletes that arrive while another batch is applied (a wave of
// child SA rekeys deletes as many as it installs).
func (p routedProgrammer) DeleteChild(c engine.ChildSA) error {
	if p.deletes != nil {
		return p.deletes.do(c, p.deleteBatch)
	}
	return p.deleteBatch([]engine.ChildSA{c})[0]
}

// deleteBatch removes the routes of cs, then cs (one Apply when more
// than one). It returns an error for each child SA (never nil).
func (p routedProgrammer) deleteBatch(cs []engine.ChildSA) []error {
	for _, c := range cs {
		p.routes.remove(childOf(c))
		p.routes.release(childOf(c))
	}
	if len(cs) == 1 {
		// Alone: as DeleteChild always did (its error, its log).
		return []error{p.Programmer.DeleteChild(cs[0])}
	}
	if errs := p.Programmer.DeleteChildren(cs); errs != nil {
		return errs
	}
	return make([]error, len(cs))
}

// InstallChildren implements engine.BatchDataplane: the child SAs in one
// batch, then the routes of those installed (the host's addresses read
// once).
func (p routedProgrammer) InstallChildren(cs []engine.ChildSA) []error {
	errs := p.Programmer.InstallChildren(cs)
	rs := make([]routes.Child, 0, len(cs))
	for i, c := range cs {
		if errs == nil || errs[i] == nil {
			rs = append(rs, childOf(c))
		}
	}
	p.routes.add(rs)
	return errs
}

// DeleteChildren implements engine.BatchDataplane: the routes first, then
// the child SAs in one batch.
func (p routedProgrammer) DeleteChildren(cs []engine.ChildSA) []error {
	for _, c := range cs {
		p.routes.remove(childOf(c))
		p.routes.release(childOf(c))
	}
	return p.Programmer.DeleteChildren(cs)
}

// MoveChild implements engine.ChildMover: the SAs move (MOBIKE), then
// the routes, which name the outer addresses, follow them.
func (p routedProgrammer) MoveChild(old, moved engine.ChildSA) error {
	if err := p.Programmer.MoveChild(old, moved); err != nil {
		return err
	}
	if err := p.routes.m.Remove(childOf(old)); err != nil {
		p.routes.log.Debug("routes: cannot remove a moved child SA's routes", "vpn", old.VPN, "policy", old.Policy, "err", err)
	}
	if p.verify != nil && p.verify.RoutesWithheld(moved) {
		return nil // still waiting for datapath verification
	}
	if err := p.routes.m.Add(childOf(moved)); err != nil {
		p.routes.log.Debug("routes: moved child SA without all its routes", "vpn", moved.VPN, "policy", moved.Policy, "err", err)
	}
	return nil
}

// childOf is what routing needs of a child SA.
func childOf(c engine.ChildSA) routes.Child {
	return routes.Child{VPN: c.VPN, Policy: c.Policy, Local: c.Local.Addr().Unmap(), Remote: c.Remote.Addr().Unmap(),
		InSPI: c.InSPI, Mode: c.Mode, LocalTS: c.LocalTS, RemoteTS: c.RemoteTS}
}

// InstallTrap implements engine.TrapDataplane: the trap policy, and with
// the userspace dataplane the routes of its remote selectors into the TUN
// (without them no packet would reach the dataplane to raise the acquire).
func (p routedProgrammer) InstallTrap(t engine.Trap) error {
	if err := p.Programmer.InstallTrap(t); err != nil {
		return err
	}
	if err := p.routes.addTrap(trapOf(t)); err != nil {
		p.routes.log.Debug("routes: trap installed without all its routes", "vpn", t.VPN, "policy", t.Policy, "err", err)
	}
	return nil
}

// RemoveTrap implements engine.TrapDataplane.
func (p routedProgrammer) RemoveTrap(t engine.Trap) error {
	if err := p.routes.removeTrap(trapOf(t)); err != nil {
		p.routes.log.Warn("routes: cannot remove a trap's routes", "vpn", t.VPN, "policy", t.Policy, "err", err)
	}
	return p.Programmer.RemoveTrap(t)
}

// SetClearPolicies implements ikesvc.ClearDataplane: the pass and drop
// policies, and their routes (routes.Manager.clearRoutes: with the
// userspace dataplane, drop policies routed into the TUN, pass policies
// thrown out of routing-table). The routes follow the policies: a drop
// policy's route goes in once its Discard policy is there.
func (p routedProgrammer) SetClearPolicies(list []config.ClearPolicy) error {
	err := p.Programmer.SetClearPolicies(list)
	p.routes.setClear(list)
	return err
}

// setClear tells the manager of the pass and drop policies of list, and
// that those it knew and list lacks (or changed) are gone.
func (r *routing) setClear(list []config.ClearPolicy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := make(map[config.PolicyRef]routes.Child, len(list))
	for _, cp := range list {
		want[config.PolicyRef{VPN: cp.VPN, Policy: cp.Name}] = routes.Child{VPN: cp.VPN, Policy: cp.Name, Clear: cp.Action,
			LocalTS: []ipsec.TrafficSelector{cp.Local.TS()}, RemoteTS: []ipsec.TrafficSelector{cp.Remote.TS()}}
	}
	for ref, c := range r.clear {
		if w, ok := want[ref]; ok && reflect.DeepEqual(w, c) {
			continue
		}
		if err := r.m.Remove(c); err != nil {
			r.log.Warn("routes: cannot remove a pass or drop policy's routes", "vpn", c.VPN, "policy", c.Policy, "err", err)
		}
		delete(r.clear, ref)
	}
	if r.clear == nil {
		r.clear = map[config.PolicyRef]routes.Child{}
	}
	for ref, c := range want {
		if _, ok := r.clear[ref]; ok {
			continue
		}
		if err := r.m.Add(c); err != nil {
			r.log.Warn("routes: a pass or drop policy installed without all its routes", "vpn", c.VPN, "policy", c.Policy, "err", err)
		}
		r.clear[ref] = c
	}
}

// trapOf is what routing needs of a trap: a child without inbound SA.
func trapOf(t engine.Trap) routes.Child {
	return routes.Child{VPN: t.VPN, Policy: t.Policy, Local: t.Local.Unmap(), Remote: t.Remote.Unmap(), Mode: t.Mode,
		LocalTS: []ipsec.TrafficSelector{t.LocalTS}, RemoteTS: []ipsec.TrafficSelector{t.RemoteTS}}
}

// monitorRoutes withdraws (up false) or restores (up true) the routes of
// a child SA: the VPN monitor's action down, so that while the child SA
// does not carry traffic the traffic takes another path; up also
// installs those that waited for datapath verification. The manager
// forgets a withdrawn child SA (its reconcile does not bring the routes
// back); its DeleteChild later finds nothing to remove.
func (r *routing) monitorRoutes(c engine.ChildSA, up bool) {
	var err error
	if up {
		err = r.m.Add(childOf(c))
		r.release(childOf(c)) // after: a trap's routes come back to a routed policy
	} else {
		err = r.m.Remove(childOf(c))
	}
	if err != nil {
		r.log.Warn("routes: VPN monitor could not change a child SA's routes", "vpn", c.VPN, "policy", c.Policy, "up", up, "err", err)
	}
}
