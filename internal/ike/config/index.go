package config

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// A Config is immutable once published (the engine loads it atomically,
// several workers read it at once). A commit does not build the next one
// from scratch: Apply derives it from the previous one and a Delta,
// sharing every *VPN that did not change and copying only the shards of
// the indexes it touches, so that its cost follows the change, not the
// size of the configuration.

// index finds VPNs without walking Config.VPNs.
type index struct {
	// byRemote holds the VPNs of each remote-address, in name order;
	// anyRemote the VPNs without one (they answer any peer), in name
	// order.
	byRemote  *cowMap[netip.Addr, []*VPN]
	anyRemote []*VPN
	// byPolicy is the VPN of each esp security policy (policy names
	// are unique in a vrf).
	byPolicy *cowMap[string, *VPN]
	// uses are the dependency keys of each VPN (Entry.Uses), users the
	// VPNs of each key (a template's change finds its VPNs without going
	// through every VPN: Users).
	uses  *cowMap[string, []string]
	users map[string]*cowMap[string, struct{}]
	// ppkByID is the PPK of each identity (the ppk list is short: it is
	// rebuilt by every Apply).
	ppkByID map[string]*PPK
}

func newIndex() *index {
	return &index{byRemote: &cowMap[netip.Addr, []*VPN]{}, byPolicy: &cowMap[string, *VPN]{},
		uses: &cowMap[string, []string]{}, users: map[string]*cowMap[string, struct{}]{}, ppkByID: map[string]*PPK{}}
}

// ix returns the index of c, built from VPNs and PPKs the first time for
// a Config written as a literal (tests): such a Config records no Uses.
func (c *Config) ix() *index {
	if x := c.idx.Load(); x != nil {
		return x
	}
	x := newIndex()
	for _, v := range c.VPNs {
		x.link(v, nil)
		if !v.RemoteAddr.IsValid() {
			x.anyRemote = append(x.anyRemote, v)
		}
	}
	x.indexPPKs(c.PPKs)
	if !c.idx.CompareAndSwap(nil, x) {
		return c.idx.Load()
	}
	return x
}

func (x *index) indexPPKs(ppks []*PPK) {
	for _, p := range ppks {
		if _, ok := x.ppkByID[string(p.ID)]; !ok {
			x.ppkByID[string(p.ID)] = p
		}
	}
}

// link indexes v, which uses the dependency keys uses.
func (x *index) link(v *VPN, uses []string) {
	if v.RemoteAddr.IsValid() {
		l, _ := x.byRemote.get(v.RemoteAddr)
		x.byRemote.set(v.RemoteAddr, insertByName(slices.Clip(l), v))
	}
	for i := range v.Policies {
		if _, ok := x.byPolicy.get(v.Policies[i].Name); !ok {
			x.byPolicy.set(v.Policies[i].Name, v)
		}
	}
	if len(uses) > 0 {
		x.uses.set(v.Name, uses)
	}
	for _, k := range uses {
		u := x.users[k]
		if u == nil {
			u = &cowMap[string, struct{}]{}
			x.users[k] = u
		}
		u.set(v.Name, struct{}{})
	}
}

// unlink forgets v.
func (x *index) unlink(v *VPN) {
	if v.RemoteAddr.IsValid() {
		l, _ := x.byRemote.get(v.RemoteAddr)
		l = slices.DeleteFunc(slices.Clone(l), func(o *VPN) bool { return o == v })
		if len(l) == 0 {
			x.byRemote.del(v.RemoteAddr)
		} else {
			x.byRemote.set(v.RemoteAddr, l)
		}
	}
	for i := range v.Policies {
		if o, _ := x.byPolicy.get(v.Policies[i].Name); o == v {
			x.byPolicy.del(v.Policies[i].Name)
		}
	}
	uses, _ := x.uses.get(v.Name)
	x.uses.del(v.Name)
	for _, k := range uses {
		if u := x.users[k]; u != nil {
			u.del(v.Name)
		}
	}
}

func insertByName(l []*VPN, v *VPN) []*VPN {
	i, _ := slices.BinarySearchFunc(l, v.Name, func(o *VPN, n string) int { return strings.Compare(o.Name, n) })
	return slices.Insert(l, i, v)
}

// VPN returns the VPN called name, or nil.
func (c *Config) VPN(name string) *VPN {
	i, ok := slices.BinarySearchFunc(c.VPNs, name, func(v *VPN, n string) int { return strings.Compare(v.Name, n) })
	if !ok {
		return nil
	}
	return c.VPNs[i]
}

// PPKByID returns the PPK whose identity is id, or nil.
func (c *Config) PPKByID(id []byte) *PPK { return c.ix().ppkByID[string(id)] }

// PolicyVPN returns the VPN that holds the security policy called name
// (policy names are unique in a vrf) and the policy, or nils.
func (c *Config) PolicyVPN(name string) (*VPN, *SecurityPolicy) {
	if v, ok := c.ix().byPolicy.get(name); ok {
		return v, v.Policy(name)
	}
	return nil, nil
}

// Candidates returns the VPNs that may answer an IKE_SA_INIT from a peer
// at remote, in name order: those whose remote-address is remote, and
// those without remote-address. Their local-address is not checked.
func (c *Config) Candidates(remote netip.Addr) []*VPN {
	x := c.ix()
	exact, _ := x.byRemote.get(remote.Unmap())
	if len(exact) == 0 {
		return x.anyRemote
	}
	if len(x.anyRemote) == 0 {
		return exact
	}
	out := make([]*VPN, 0, len(exact)+len(x.anyRemote))
	out = append(append(out, exact...), x.anyRemote...)
	slices.SortFunc(out, func(a, b *VPN) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Users returns the names of the VPNs that Apply was told use the
// dependency key (Entry.Uses), in no order: from the index of each key's
// VPNs, so that a template's change costs what it touches.
func (c *Config) Users(key string) []string {
	u := c.ix().users[key]
	if u == nil {
		return nil
	}
	var out []string
	for name := range u.all() {
		out = append(out, name)
	}
	return out
}

// ClearOf returns the pass and drop policies of the VPN called name.
func (c *Config) ClearOf(name string) []ClearPolicy {
	lo, hi := clearRange(c.Clear, name)
	return c.Clear[lo:hi:hi]
}

// clearRange is the range of l, sorted by VPN, that holds the entries of
// the VPN called name.
func clearRange(l []ClearPolicy, name string) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(l, name, func(p ClearPolicy, n string) int { return strings.Compare(p.VPN, n) })
	hi = lo
	for hi < len(l) && l[hi].VPN == name {
		hi++
	}
	return lo, hi
}

// Delta is what turns a Config into the next one.
type Delta struct {
	Global Global
	// PPKs is the whole ppk list, sorted by name.
	PPKs []*PPK
	// Put are the VPNs added or replacing the one of the same name;
	// Remove the names of the VPNs that go. No name is in both, or twice.
	Put    []Entry
	Remove []string
}

// Entry is one VPN of a Delta.
type Entry struct {
	VPN *VPN
	// Clear are the VPN's pass and drop policies, sorted by name.
	Clear []ClearPolicy
	// Uses are the keys of what the VPN inherits from (its templates,
	// its ppk): Config.Users finds it by them. Opaque to this package.
	Uses []string
}

// Apply returns the Config that d makes of c, which it leaves unchanged:
// the VPNs of neither Put nor Remove are c's (the same pointers), and the
// indexes and slices are c's with only the changed parts copied.
func (c *Config) Apply(d Delta) *Config {
	old := c.ix()
	x := &index{byRemote: old.byRemote.derive(), byPolicy: old.byPolicy.derive(), uses: old.uses.derive(),
		users:   make(map[string]*cowMap[string, struct{}], len(old.users)),
		ppkByID: map[string]*PPK{}}
	for k, u := range old.users {
		x.users[k] = u.derive()
	}
	x.indexPPKs(d.PPKs)
	put := slices.Clone(d.Put)
	slices.SortFunc(put, func(a, b Entry) int { return strings.Compare(a.VPN.Name, b.VPN.Name) })
	names := make([]string, 0, len(put)+len(d.Remove))
	for _, e := range put {
		names = append(names, e.VPN.Name)
	}
	names = append(names, d.Remove...)
	slices.Sort(names)
	for _, n := range names {
		if ov := c.VPN(n); ov != nil {
			x.unlink(ov)
		}
	}
	vpns := make([]*VPN, len(put))
	var clears [][]ClearPolicy
	var anyRemote []*VPN
	for i, e := range put {
		x.link(e.VPN, e.Uses)
		vpns[i] = e.VPN
		clears = append(clears, e.Clear)
		if !e.VPN.RemoteAddr.IsValid() {
			anyRemote = append(anyRemote, e.VPN)
		}
	}
	byName := func(v *VPN) string { return v.Name }
	n := &Config{Global: d.Global, PPKs: d.PPKs, PKI: c.PKI}
	n.VPNs = splice(c.VPNs, byName, names, vpns)
	x.anyRemote = splice(old.anyRemote, byName, names, anyRemote)
	n.Clear = splice(c.Clear, func(p ClearPolicy) string { return p.VPN }, names, slices.Concat(clears...))
	n.idx.Store(x)
	return n
}

// splice returns l, sorted by name, without its entries named in names
// (sorted) and with add (sorted by name, every name in names) in their
// place. When that changes nothing, it returns l itself.
func splice[T any](l []T, name func(T) string, names []string, add []T) []T {
	var out []T
	pos, ai, changed := 0, 0, false
	for _, n := range names {
		lo, _ := slices.BinarySearchFunc(l[pos:], n, func(e T, n string) int { return cmp.Compare(name(e), n) })
		lo += pos
		hi := lo
		for hi < len(l) && name(l[hi]) == n {
			hi++
		}
		first := ai
		for ai < len(add) && name(add[ai]) == n {
			ai++
		}
		if hi == lo && ai == first {
			continue
		}
		if !changed {
			changed = true
			out = make([]T, 0, len(l)+len(add))
		}
		out = append(out, l[pos:lo]...)
		out = append(out, add[first:ai]...)
		pos = hi
	}
	if !changed {
		return l
	}
	return append(out, l[pos:]...)
}
