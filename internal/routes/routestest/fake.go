// Package routestest is the in-memory twin of the host's routing for tests
// of package routes: links with addresses, a route table holding the
// Manager's routes beside foreign ones (another protocol), policy routing
// rules, next-hop answers, and a text rendering of it all (ip route / ip
// rule style) for golden tests. It keeps the kernel's rules that matter to
// the Manager: one route per table and destination, a device must exist, a
// preferred source must be a host address, a gateway must be on a link,
// only a route of protocol routes.Protocol is deleted.
package routestest

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"secgw/internal/routes"
)

// Fake implements routes.OS in memory. The zero value is not usable: call
// New.
type Fake struct {
	mu       sync.Mutex
	links    map[string][]netip.Prefix // name -> addresses with their prefix
	nexthops map[netip.Addr]routes.NextHop
	routes   map[rkey]entry
	rules    map[ruleEntry]bool
	l3vrfs   map[string]uint32
	ops      int
	// Fail, when set, is asked before each change (op is "add",
	// "replace", "delete", "add-rule" or "delete-rule"); an error it
	// returns fails the change.
	Fail func(op string, r routes.Route) error
}

type rkey struct {
	table uint32
	dst   netip.Prefix
}

type entry struct {
	r     routes.Route
	proto int
}

type ruleEntry struct {
	r     routes.Rule
	proto int
}

// New returns an empty Fake: no link, no route, no rule.
func New() *Fake {
	return &Fake{links: map[string][]netip.Prefix{}, nexthops: map[netip.Addr]routes.NextHop{},
		routes: map[rkey]entry{}, rules: map[ruleEntry]bool{}, l3vrfs: map[string]uint32{}}
}

// AddL3VRF adds a Linux VRF device whose routes go to table.
func (f *Fake) AddL3VRF(name string, table uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.l3vrfs[name] = table
	f.links[name] = nil
}

// L3VRFTable implements routes.L3VRFTables.
func (f *Fake) L3VRFTable(name string) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.l3vrfs[name]
	if !ok {
		return 0, fmt.Errorf("routestest: no vrf device %s", name)
	}
	return t, nil
}

// AddLink adds a link with addresses (each with the prefix of its
// connected network, as 192.0.2.1/24).
func (f *Fake) AddLink(name string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[name] = nil
	for _, a := range addrs {
		f.links[name] = append(f.links[name], netip.MustParsePrefix(a))
	}
}

// DelLink removes a link, its addresses and, as the kernel does, every
// route through it.
func (f *Fake) DelLink(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.links, name)
	for k, e := range f.routes {
		if e.r.Dev == name {
			delete(f.routes, k)
		}
	}
}

// SetNextHop sets what RouteTo answers for dst (otherwise: the link whose
// connected network holds dst, else unreachable).
func (f *Fake) SetNextHop(dst string, nh routes.NextHop) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nexthops[netip.MustParseAddr(dst)] = nh
}

// AddForeign adds a route of another protocol (proto, as 4 for static).
func (f *Fake) AddForeign(r routes.Route, proto int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[rkey{r.Table, r.Dst}] = entry{r, proto}
}

// AddForeignRule adds a rule of another protocol.
func (f *Fake) AddForeignRule(r routes.Rule, proto int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[ruleEntry{r, proto}] = true
}

// Drop deletes the route of table and dst whoever owns it (drift: a
// route deleted by hand).
func (f *Fake) Drop(table uint32, dst string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.routes, rkey{table, netip.MustParsePrefix(dst)})
}

// Ops returns the number of changes made through the OS interface.
func (f *Fake) Ops() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops
}

// Routes implements routes.OS.
func (f *Fake) Routes() ([]routes.Route, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []routes.Route
	for _, e := range f.routes {
		if e.proto == routes.Protocol {
			out = append(out, e.r)
		}
	}
	return out, nil
}

// check applies the kernel's checks to a route being added; f.mu is held.
// It returns the route as the kernel stores it (device filled in).
func (f *Fake) check(r routes.Route) (routes.Route, error) {
	if r.Throw {
		if r.Dev != "" || r.Gateway.IsValid() || r.Src.IsValid() {
			return r, fmt.Errorf("routestest: throw route with a next hop: %w", unix.EINVAL)
		}
		return r, nil
	}
	if r.Dev != "" {
		if _, ok := f.links[r.Dev]; !ok {
			return r, fmt.Errorf("routestest: device %s: %w", r.Dev, unix.ENODEV)
		}
	}
	if r.Gateway.IsValid() {
		dev := f.onLink(r.Gateway)
		if dev == "" || (r.Dev != "" && dev != r.Dev) {
			return r, fmt.Errorf("routestest: gateway %s not on a link: %w", r.Gateway, unix.ENETUNREACH)
		}
		r.Dev = dev
	} else if r.Dev == "" {
		return r, fmt.Errorf("routestest: route without gateway or device: %w", unix.EINVAL)
	}
	if r.Src.IsValid() && !f.isHostAddr(r.Src) {
		return r, fmt.Errorf("routestest: invalid prefsrc %s: %w", r.Src, unix.EINVAL)
	}
	return r, nil
}

func (f *Fake) onLink(a netip.Addr) string {
	for name, ps := range f.links {
		for _, p := range ps {
			if p.Masked().Contains(a) {
				return name
			}
		}
	}
	return ""
}

func (f *Fake) isHostAddr(a netip.Addr) bool {
	for _, ps := range f.links {
		for _, p := range ps {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// AddRoute implements routes.OS.
func (f *Fake) AddRoute(r routes.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("add", r); err != nil {
		return err
	}
	if _, ok := f.routes[rkey{r.Table, r.Dst}]; ok {
		return fmt.Errorf("routestest: %s: %w", r, unix.EEXIST)
	}
	r, err := f.check(r)
	if err != nil {
		return err
	}
	f.ops++
	f.routes[rkey{r.Table, r.Dst}] = entry{r, routes.Protocol}
	return nil
}

// ReplaceRoute implements routes.OS.
func (f *Fake) ReplaceRoute(r routes.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("replace", r); err != nil {
		return err
	}
	r, err := f.check(r)
	if err != nil {
		return err
	}
	f.ops++
	f.routes[rkey{r.Table, r.Dst}] = entry{r, routes.Protocol}
	return nil
}

// DelRoute implements routes.OS: only a route of protocol routes.Protocol
// is deleted.
func (f *Fake) DelRoute(r routes.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("delete", r); err != nil {
		return err
	}
	k := rkey{r.Table, r.Dst}
	if e, ok := f.routes[k]; ok && e.proto == routes.Protocol {
		f.ops++
		delete(f.routes, k)
	}
	return nil
}

// Rules implements routes.OS.
func (f *Fake) Rules() ([]routes.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []routes.Rule
	for e := range f.rules {
		if e.proto == routes.Protocol {
			out = append(out, e.r)
		}
	}
	return out, nil
}

// AddRule implements routes.OS.
func (f *Fake) AddRule(r routes.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("add-rule", routes.Route{Table: r.Table}); err != nil {
		return err
	}
	e := ruleEntry{r, routes.Protocol}
	if !f.rules[e] {
		f.ops++
		f.rules[e] = true
	}
	return nil
}

// DelRule implements routes.OS.
func (f *Fake) DelRule(r routes.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("delete-rule", routes.Route{Table: r.Table}); err != nil {
		return err
	}
	e := ruleEntry{r, routes.Protocol}
	if f.rules[e] {
		f.ops++
		delete(f.rules, e)
	}
	return nil
}

func (f *Fake) fail(op string, r routes.Route) error {
	if f.Fail == nil {
		return nil
	}
	return f.Fail(op, r)
}

// RouteTo implements routes.OS.
func (f *Fake) RouteTo(dst, src netip.Addr) (routes.NextHop, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if nh, ok := f.nexthops[dst]; ok {
		return nh, nil
	}
	if dev := f.onLink(dst); dev != "" {
		return routes.NextHop{Dev: dev}, nil
	}
	return routes.NextHop{}, errors.New("routestest: network unreachable")
}

// Addrs implements routes.OS.
func (f *Fake) Addrs() ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Addr
	for _, ps := range f.links {
		for _, p := range ps {
			out = append(out, p.Addr())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// Render prints the rules, then the routes by table and destination, one
// a line, each with its protocol ("secgw" for routes.Protocol).
func (f *Fake) Render() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	rules := make([]ruleEntry, 0, len(f.rules))
	for e := range f.rules {
		rules = append(rules, e)
	}
	slices.SortFunc(rules, func(x, y ruleEntry) int {
		return cmp.Or(cmp.Compare(x.r.Priority, y.r.Priority), cmp.Compare(x.r.Table, y.r.Table),
			cmpBool(x.r.V6, y.r.V6), cmp.Compare(x.proto, y.proto))
	})
	for _, e := range rules {
		fmt.Fprintf(&b, "rule %s proto %s\n", e.r, protoName(e.proto))
	}
	rs := make([]entry, 0, len(f.routes))
	for _, e := range f.routes {
		rs = append(rs, e)
	}
	slices.SortFunc(rs, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.r.Table, y.r.Table), cmpBool(x.r.Dst.Addr().Is6(), y.r.Dst.Addr().Is6()),
			x.r.Dst.Addr().Compare(y.r.Dst.Addr()), cmp.Compare(x.r.Dst.Bits(), y.r.Dst.Bits()))
	})
	for _, e := range rs {
		fmt.Fprintf(&b, "route %s proto %s\n", e.r, protoName(e.proto))
	}
	return b.String()
}

func protoName(p int) string {
	switch p {
	case routes.Protocol:
		return "secgw"
	case 4:
		return "static"
	}
	return fmt.Sprint(p)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
