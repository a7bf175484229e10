package routes

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sync"

	"secgw/internal/ike/config"
)

// Options configure a Manager.
type Options struct {
	// OS is the host's routing. Required.
	OS OS
	// TUN is the userspace dataplane's TUN device; "" means the kernel
	// dataplane.
	TUN string
	// Logger receives warnings (routes that cannot be installed) and,
	// at debug level, every change.
	Logger *slog.Logger
	// VRF is the vrf of OS (the IKE vrf); "" means main. inject-routes
	// naming it installs into OS.
	VRF string
	// OSOf opens the routing of another vrf, for inject-routes vrf: the
	// Manager calls it for each request there (the caller caches and
	// follows a namespace that was replaced). nil: routes for another
	// vrf are not installed (logged).
	OSOf func(vrf string) (OS, error)
}

// Manager keeps the routes of the child SAs it is told of, and the rules
// looking up routing-table, in the host's routing.
//
// Refcounting: routes are keyed by table and destination. Child SAs that
// need the same key share its route; the oldest one's version is
// installed, and when it goes the next one's takes over (a replace, never
// a gap: a rekeyed child is added before the one it replaces is removed).
//
// Reconciling: Add, Remove and SetConfig change only what differs from
// what the Manager installed, so that repeating them changes nothing.
// Reconcile (and Start) list the host's routes and rules of protocol
// Protocol first, so that drift (a route deleted by hand, one left by a
// previous run) is repaired too.
//
// Rules: "from all lookup routing-table" at routing-table-prio, IPv4 and
// IPv6, while routing-table is used: always with the userspace
// dataplane, with install-routes with the kernel one. inject-routes
// tables get no rule (the guide: the operator provides it).
//
// A route the Manager cannot install (its key held by a route that is not
// ours, an error of the host) is logged and retried by the next
// Reconcile; the child SA stays up. Methods are safe for concurrent use;
// each holds the Manager's lock while it talks to the OS.
type Manager struct {
	os   OS
	tun  string
	log  *slog.Logger
	vrf  string
	osOf func(vrf string) (OS, error)

	mu       sync.Mutex
	cfg      config.Routes
	seq      uint64
	children map[childKey]*child
	want     map[key][]use // uses in child order: [0] is installed
	// have is what is installed under each key. A route installed as a
	// child SA wants it points at that child's routes (never changed in
	// place: a recompute gives the child a new slice), so that the
	// installed routes cost a pointer each rather than a copy (128
	// octets; one a child SA).
	have   map[key]*Route
	rules  map[Rule]bool // installed
	closed bool
}

// childKey identifies a child SA: its inbound SA.
type childKey struct {
	local netip.Addr
	spi   uint32
	// policy tells traps apart: a trap (InSPI 0) stands for a security
	// policy before its first child SA.
	policy string
}

type child struct {
	seq    uint64
	c      Child
	routes []Route
}

// use is a child SA's need of a route: ch.routes[i] (an index rather
// than a copy of the route: one less Route per child SA).
type use struct {
	ch *child
	i  int
}

func (u use) route() Route { return u.ch.routes[u.i] }

// ptr is the route of u where the child keeps it.
func (u use) ptr() *Route { return &u.ch.routes[u.i] }

// New returns a Manager with the default configuration (routing-table
// and routing-table-prio 220, no install-routes) and no child SA. Call
// Start before use.
func New(o Options) *Manager {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	vrf := o.VRF
	if vrf == "" {
		vrf = mainVRF
	}
	return &Manager{
		os: o.OS, tun: o.TUN, log: log, vrf: vrf, osOf: o.OSOf,
		cfg:      config.DefaultRoutes(),
		children: map[childKey]*child{},
		want:     map[key][]use{},
		have:     map[key]*Route{},
		rules:    map[Rule]bool{},
	}
}

// Start removes the routes and rules of protocol Protocol a previous run
// left, and installs the rules the configuration needs.
func (m *Manager) Start() error {
	return m.Reconcile()
}

// SetConfig applies a new route configuration: routes move to a new
// routing-table, the rule to a new priority, install-routes and
// inject-routes changes add or remove the routes of established child
// SAs. Setting the same configuration again changes nothing.
func (m *Manager) SetConfig(cfg config.Routes) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if reflect.DeepEqual(cfg, m.cfg) {
		return nil
	}
	m.cfg = cfg
	return m.recompute()
}

// Config returns the route configuration in use.
func (m *Manager) Config() config.Routes {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Add installs the routes of an established child SA. Adding a child SA
// again changes nothing.
func (m *Manager) Add(c Child) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := childKey{c.Local.Unmap(), c.InSPI, trapName(c)}
	if m.children[k] != nil || m.closed {
		return nil
	}
	m.seq++
	ch := &child{seq: m.seq, c: c}
	m.children[k] = ch
	addrs, err := m.addrs(ch)
	if err != nil {
		return err
	}
	ch.routes = m.childRoutes(c, addrs, m.log.Warn)
	var errs []error
	for i, r := range ch.routes {
		m.want[r.key()] = append(m.want[r.key()], use{ch, i})
		errs = append(errs, m.sync(r.key()))
	}
	return errors.Join(errs...)
}

// AddAll is Add of each child SA, reading the host's addresses once
// rather than once per child SA (an HA takeover adds 10k at once).
func (m *Manager) AddAll(cs []Child) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var addrs []netip.Addr
	read := false
	var errs []error
	for _, c := range cs {
		k := childKey{c.Local.Unmap(), c.InSPI, trapName(c)}
		if m.children[k] != nil || m.closed {
			continue
		}
		m.seq++
		ch := &child{seq: m.seq, c: c}
		m.children[k] = ch
		if len(c.RemoteTS) > 0 && !read {
			var err error
			if addrs, err = m.addrs(ch); err != nil {
				errs = append(errs, err)
				continue
			}
			read = true
		}
		ch.routes = m.childRoutes(c, addrs, m.log.Warn)
		for i, r := range ch.routes {
			m.want[r.key()] = append(m.want[r.key()], use{ch, i})
			errs = append(errs, m.sync(r.key()))
		}
	}
	return errors.Join(errs...)
}

// Remove removes the routes of a child SA that no other child SA needs.
// Removing an unknown child SA changes nothing.
func (m *Manager) Remove(c Child) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := childKey{c.Local.Unmap(), c.InSPI, trapName(c)}
	ch := m.children[k]
	if ch == nil {
		return nil
	}
	delete(m.children, k)
	var errs []error
	for _, r := range ch.routes {
		us := slices.DeleteFunc(m.want[r.key()], func(u use) bool { return u.ch == ch })
		if len(us) == 0 {
			delete(m.want, r.key())
		} else {
			m.want[r.key()] = us
		}
		errs = append(errs, m.sync(r.key()))
	}
	return errors.Join(errs...)
}

// Reconcile makes the host's routes and rules of protocol Protocol what
// the child SAs and the configuration need: it lists them, recomputes
// every child SA's routes (the next hop to a peer or the host's addresses
// may have changed) and adds, replaces and deletes the difference.
func (m *Manager) Reconcile() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	listed, err := m.os.Routes()
	if err != nil {
		return fmt.Errorf("routes: list routes: %w", err)
	}
	rules, err := m.os.Rules()
	if err != nil {
		return fmt.Errorf("routes: list rules: %w", err)
	}
	// The routes of other vrfs (inject-routes vrf) are not listed for
	// cleanup: the Manager of a third vrf may inject routes there too
	// (OSOf's protocol, ProtocolOtherVRF in the daemon, is shared). Of
	// those the Manager installed, the ones gone from the host are
	// forgotten, so that they are added again.
	foreign := map[key]*Route{}
	for k, r := range m.have {
		if k.vrf != "" {
			foreign[k] = r
		}
	}
	clear(m.have)
	for i := range listed {
		m.have[listed[i].key()] = &listed[i]
	}
	for k, r := range m.foreignPresent(foreign) {
		m.have[k] = r
	}
	clear(m.rules)
	for _, r := range rules {
		m.rules[r] = true
	}
	return m.recompute()
}

// Close removes every route and rule the Manager installed; later Adds
// install nothing.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	clear(m.children)
	clear(m.want)
	// The rules first: nothing is looked up in the table while it empties.
	errs := []error{m.syncRules()}
	for k := range m.have {
		errs = append(errs, m.sync(k))
	}
	return errors.Join(errs...)
}

// Installed returns the routes the Manager has installed, sorted by table
// and destination.
func (m *Manager) Installed() []Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Route, 0, len(m.have))
	for _, r := range m.have {
		out = append(out, *r)
	}
	slices.SortFunc(out, compareRoutes)
	return out
}

// recompute rebuilds want from every child SA, in the order they were
// added, and syncs every route and the rules: additions and replacements
// first, then the rules, then deletions, so that a move to another table
// or rule priority leaves no moment without a route. m.mu is held.
func (m *Manager) recompute() error {
	var errs []error
	chs := make([]*child, 0, len(m.children))
	for _, ch := range m.children {
		chs = append(chs, ch)
	}
	slices.SortFunc(chs, func(a, b *child) int { return cmp.Compare(a.seq, b.seq) })
	var addrs []netip.Addr
	if len(chs) > 0 {
		var err error
		if addrs, err = m.os.Addrs(); err != nil {
			errs = append(errs, fmt.Errorf("routes: host addresses: %w", err))
		}
	}
	clear(m.want)
	for _, ch := range chs {
		ch.routes = m.childRoutes(ch.c, addrs, m.log.Debug)
		for i, r := range ch.routes {
			m.want[r.key()] = append(m.want[r.key()], use{ch, i})
		}
	}
	var keep, drop []key
	for k := range m.want {
		keep = append(keep, k)
	}
	for k := range m.have {
		if _, ok := m.want[k]; !ok {
			drop = append(drop, k)
		}
	}
	for _, k := range keep {
		errs = append(errs, m.sync(k))
	}
	errs = append(errs, m.syncRules())
	for _, k := range drop {
		errs = append(errs, m.sync(k))
	}
	return errors.Join(errs...)
}

// addrs lists the host's addresses, when ch may need a source address.
func (m *Manager) addrs(ch *child) ([]netip.Addr, error) {
	if len(ch.c.RemoteTS) == 0 {
		return nil, nil
	}
	a, err := m.os.Addrs()
	if err != nil {
		return nil, fmt.Errorf("routes: host addresses: %w", err)
	}
	return a, nil
}

// foreignPresent is the part of have (routes in other vrfs) still on
// their hosts: a vrf whose routing cannot be listed keeps its entries.
// m.mu is held.
func (m *Manager) foreignPresent(have map[key]*Route) map[key]*Route {
	byVRF := map[string]map[key]*Route{}
	for k, r := range have {
		if byVRF[k.vrf] == nil {
			byVRF[k.vrf] = map[key]*Route{}
		}
		byVRF[k.vrf][k] = r
	}
	out := map[key]*Route{}
	for vrf, rs := range byVRF {
		os, err := m.osFor(vrf)
		var listed []Route
		if err == nil {
			listed, err = os.Routes()
		}
		if err != nil {
			maps.Copy(out, rs)
			continue
		}
		there := map[key]bool{}
		for _, r := range listed {
			r.VRF = vrf
			there[r.key()] = true
		}
		for k, r := range rs {
			if there[k] {
				out[k] = r
			}
		}
	}
	return out
}

// osFor is the routing of vrf: the Manager's own for "", else OSOf's.
// m.mu is held.
func (m *Manager) osFor(vrf string) (OS, error) {
	if vrf == "" {
		return m.os, nil
	}
	if m.osOf == nil {
		return nil, fmt.Errorf("routes: no routing of vrf %s", vrf)
	}
	return m.osOf(vrf)
}

// onHost is r as its vrf's OS sees it: the vrf is the OS itself.
func onHost(r Route) Route {
	r.VRF = ""
	return r
}

// sync makes the installed route of k the wanted one. m.mu is held.
func (m *Manager) sync(k key) error {
	us := m.want[k]
	h, installed := m.have[k]
	os, err := m.osFor(k.vrf)
	if err != nil {
		if len(us) > 0 {
			m.log.Warn("cannot install a route (retried at the next reconcile)", "route", us[0].route().String(), "err", err)
		}
		return err
	}
	switch {
	case len(us) == 0 && !installed:
		return nil
	case len(us) == 0:
		if err := os.DelRoute(onHost(*h)); err != nil {
			return fmt.Errorf("routes: delete %s: %w", h, err)
		}
		delete(m.have, k)
		m.log.Debug("route deleted", "route", h.String())
		return nil
	case !installed:
		w := us[0].route()
		if err := os.AddRoute(onHost(w)); err != nil {
			m.log.Warn("cannot install a route (retried at the next reconcile)", "route", w.String(), "err", err)
			return fmt.Errorf("routes: add %s: %w", w, err)
		}
		m.have[k] = us[0].ptr()
		m.log.Debug("route added", "route", w.String())
		return nil
	}
	w := us[0].route()
	if sameRoute(w, *h) {
		if w == *h {
			// The same route: point at the wanted one, so that a
			// Reconcile's listing is not kept alive by the entries
			// it set (one that differs in what sameRoute ignores,
			// the device the host chose, keeps the listed route).
			m.have[k] = us[0].ptr()
		}
		return nil
	}
	if err := os.ReplaceRoute(onHost(w)); err != nil {
		m.log.Warn("cannot replace a route (retried at the next reconcile)", "route", w.String(), "err", err)
		return fmt.Errorf("routes: replace %s: %w", w, err)
	}
	m.have[k] = us[0].ptr()
	m.log.Debug("route replaced", "route", w.String(), "was", h.String())
	return nil
}

// wantRules are the rules the configuration needs. m.mu is held.
func (m *Manager) wantRules() map[Rule]bool {
	if m.closed || (m.tun == "" && !m.cfg.Install) {
		return nil
	}
	return map[Rule]bool{
		{V6: false, Table: m.cfg.Table, Priority: m.cfg.RulePriority}: true,
		{V6: true, Table: m.cfg.Table, Priority: m.cfg.RulePriority}:  true,
	}
}

// syncRules adds the wanted rules before it deletes the others, so that
// a priority change never leaves the table unreferenced. m.mu is held.
func (m *Manager) syncRules() error {
	want := m.wantRules()
	var errs []error
	for _, r := range sortedRules(want) {
		if m.rules[r] {
			continue
		}
		if err := m.os.AddRule(r); err != nil {
			errs = append(errs, fmt.Errorf("routes: add rule %s: %w", r, err))
			continue
		}
		m.rules[r] = true
		m.log.Debug("rule added", "rule", r.String())
	}
	for _, r := range sortedRules(m.rules) {
		if want[r] {
			continue
		}
		if err := m.os.DelRule(r); err != nil {
			errs = append(errs, fmt.Errorf("routes: delete rule %s: %w", r, err))
			continue
		}
		delete(m.rules, r)
		m.log.Debug("rule deleted", "rule", r.String())
	}
	return errors.Join(errs...)
}

// sameRoute compares a wanted route with an installed one; a wanted route
// without a device matches any device (the kernel fills in the one of
// the gateway).
func sameRoute(want, have Route) bool {
	if want.Dev == "" {
		have.Dev = ""
	}
	return want == have
}

func sortedRules(set map[Rule]bool) []Rule {
	out := make([]Rule, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rule) int {
		switch {
		case a.Priority != b.Priority:
			return cmp.Compare(a.Priority, b.Priority)
		case a.Table != b.Table:
			return cmp.Compare(a.Table, b.Table)
		case a.V6 != b.V6:
			if a.V6 {
				return 1
			}
			return -1
		}
		return 0
	})
	return out
}

func compareKeys(a, b key) int {
	if a.vrf != b.vrf {
		return cmp.Compare(a.vrf, b.vrf)
	}
	if a.table != b.table {
		return cmp.Compare(a.table, b.table)
	}
	if c := a.dst.Addr().Compare(b.dst.Addr()); c != 0 {
		return c
	}
	return a.dst.Bits() - b.dst.Bits()
}

func compareRoutes(a, b Route) int { return compareKeys(a.key(), b.key()) }

// trapName is the policy of a trap (a Child without InSPI), "" for a
// child SA, which its inbound SA names alone.
func trapName(c Child) string {
	if c.InSPI != 0 {
		return ""
	}
	return c.VPN + "/" + c.Policy
}
