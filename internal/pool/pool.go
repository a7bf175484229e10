package pool

import (
	"math"
	"net/netip"
)

// lease is one address leased to one identity in one pool.
type lease struct {
	identity string
	addr     netip.Addr
	// holders counts the IKE SAs that hold the address; 0: released,
	// reserved for identity and on the family's released list.
	holders int
	// prev and next link the released list, oldest first.
	prev, next *lease
}

// idKey is a lease's owner: an identity holds at most one address of each
// family in a pool.
type idKey struct {
	identity string
	v6       bool
}

// family is the allocation state of one address family of a pool.
type family struct {
	ranges []Range
	size   uint64
	// cursor walks the ranges once: every address before it is leased
	// (held or reserved), so the addresses from it on that are not in
	// byAddr were never given out since the ranges were set.
	ri   int
	next netip.Addr
	// released are the leases no IKE SA holds, oldest first: taken back
	// when the cursor is past the end.
	head, tail *lease
	leased     int
}

// pool is one configured pool with its leases. Not safe for concurrent
// use: the Manager locks.
type pool struct {
	cfg    Config
	fam    [2]family // 0: IPv4, 1: IPv6
	byAddr map[netip.Addr]*lease
	byID   map[idKey]*lease
}

func famIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func newPool(cfg Config) *pool {
	p := &pool{cfg: cfg, byAddr: map[netip.Addr]*lease{}, byID: map[idKey]*lease{}}
	for _, r := range cfg.Ranges {
		f := &p.fam[famIndex(r.First)]
		f.ranges = append(f.ranges, r)
		if s := r.Size(); f.size > math.MaxUint64-s {
			f.size = math.MaxUint64
		} else {
			f.size += s
		}
	}
	for i := range p.fam {
		if f := &p.fam[i]; len(f.ranges) > 0 {
			f.next = f.ranges[0].First
		}
	}
	return p
}

// contains reports whether a is one of the pool's addresses.
func (p *pool) contains(a netip.Addr) bool {
	for _, r := range p.fam[famIndex(a)].ranges {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

// find returns identity's lease of the family, or nil.
func (p *pool) find(identity string, v6 bool) *lease {
	return p.byID[idKey{identity, v6}]
}

// fresh returns the next address the cursor finds free, or an invalid
// address when it is past the end. Amortized O(1): each address is passed
// once per setting of the ranges.
func (f *family) fresh(byAddr map[netip.Addr]*lease) netip.Addr {
	for f.ri < len(f.ranges) {
		a := f.next
		if a == f.ranges[f.ri].Last || !a.Next().IsValid() {
			f.ri++
			if f.ri < len(f.ranges) {
				f.next = f.ranges[f.ri].First
			}
		} else {
			f.next = a.Next()
		}
		if byAddr[a] == nil {
			return a
		}
	}
	return netip.Addr{}
}

func (f *family) unlink(l *lease) {
	if l.prev != nil {
		l.prev.next = l.next
	} else if f.head == l {
		f.head = l.next
	}
	if l.next != nil {
		l.next.prev = l.prev
	} else if f.tail == l {
		f.tail = l.prev
	}
	l.prev, l.next = nil, nil
}

func (f *family) pushReleased(l *lease) {
	l.prev, l.next = f.tail, nil
	if f.tail != nil {
		f.tail.next = l
	} else {
		f.head = l
	}
	f.tail = l
}

// add records a lease of a to identity with holders holders, replacing
// whatever lease a or identity had in the pool. It returns the identity
// that lost a, if another one had it.
func (p *pool) add(identity string, a netip.Addr, holders int) (lost string) {
	f := &p.fam[famIndex(a)]
	if old := p.byAddr[a]; old != nil {
		if old.identity != identity {
			lost = old.identity
		}
		p.remove(old)
	}
	if old := p.find(identity, a.Is6()); old != nil {
		p.remove(old)
	}
	l := &lease{identity: identity, addr: a, holders: holders}
	p.byAddr[a] = l
	p.byID[idKey{identity, a.Is6()}] = l
	f.leased++
	if holders == 0 {
		f.pushReleased(l)
	}
	return lost
}

// remove forgets lease l.
func (p *pool) remove(l *lease) {
	f := &p.fam[famIndex(l.addr)]
	if l.holders == 0 {
		f.unlink(l)
	}
	delete(p.byAddr, l.addr)
	delete(p.byID, idKey{l.identity, l.addr.Is6()})
	f.leased--
}

// own counts one more holder of identity's lease of the family, if it
// has one.
func (p *pool) own(identity string, v6 bool) (netip.Addr, bool) {
	l := p.find(identity, v6)
	if l == nil {
		return netip.Addr{}, false
	}
	if l.holders == 0 {
		p.fam[famIndex(l.addr)].unlink(l)
	}
	l.holders++
	return l.addr, true
}

// take leases identity an address of the family, held once: a fresh one,
// or with reclaim the reserved lease released the longest ago; lost
// names the identity whose reservation it was. ok is false when there is
// none.
func (p *pool) take(identity string, v6, reclaim bool) (a netip.Addr, lost string, ok bool) {
	fi := 0
	if v6 {
		fi = 1
	}
	f := &p.fam[fi]
	if a = f.fresh(p.byAddr); !a.IsValid() {
		if !reclaim || f.head == nil {
			return netip.Addr{}, "", false
		}
		a = f.head.addr
	}
	return a, p.add(identity, a, 1), true
}

// release drops one holder of identity's lease of a; at none the lease
// goes to the end of the released list, still reserved for identity.
func (p *pool) release(identity string, a netip.Addr) {
	l := p.byAddr[a]
	if l == nil || l.identity != identity || l.holders == 0 {
		return
	}
	if l.holders--; l.holders == 0 {
		p.fam[famIndex(a)].pushReleased(l)
	}
}
