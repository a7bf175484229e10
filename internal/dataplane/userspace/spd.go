package userspace

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"strconv"

	"secgw/internal/dataplane"
)

// spd is the policies of one direction, in match order (RFC 4301 §4.4.1:
// the first matching entry of an ordered SPD wins; comparePolicies is the
// order), indexed so that a lookup does not scan them all.
//
// The policies are grouped by the prefix lengths of their selector
// (address family, source bits, destination bits); within a group they are
// hashed by their two prefixes, and each hash bucket, the policies with
// the very same prefixes, is kept in match order. A packet can only match
// the policies of a group that sit in the bucket of its own addresses
// masked to the group's lengths, so a lookup probes one bucket per group
// and keeps the best of the first matches by comparePolicies, which is
// the first match of the whole ordered SPD.
//
// This is the kernel's SPD hash (policies whose prefixes are at least as
// long as per-family thresholds are hashed on those bits, the rest kept in
// ordered lists) with one hash per combination of lengths in use instead
// of thresholds: many host-to-host, subnet-to-subnet or any-to-host
// (remote access) selectors all hash, and there is nothing to tune. A
// lookup costs one probe per group: few in practice (the lengths a
// configuration uses), and never more than the policies.
//
// Like pmap, an spd is persistent: a change copies the groups slice and the
// group it touches (unless e already did), and one bucket.
type spd struct {
	groups []*spdGroup
	edit   *edit // the batch that may change groups in place
}

// spdGroup holds the policies of one family and pair of prefix lengths.
type spdGroup struct {
	v6               bool
	srcBits, dstBits int
	n                int
	buckets          pmap[addrPair, []*policy] // each in match order
	edit             *edit
}

// addrPair is a hash key of a group: the source and destination
// addresses masked to the group's prefix lengths.
type addrPair struct{ src, dst netip.Addr }

// specificity orders overlapping selectors: longer prefixes first, then a
// protocol, then ports.
func specificity(s *dataplane.Selector) int {
	n := (s.Src.Bits() + s.Dst.Bits()) << 3
	if s.Proto != 0 {
		n += 4
	}
	if s.SrcPort != 0 {
		n++
	}
	if s.DstPort != 0 {
		n++
	}
	return n
}

// comparePolicies is the SPD order: lower priority value first (the
// kernel's convention), then the more specific selector, then the
// selector's text for a stable order.
func comparePolicies(a, b *policy) int {
	if c := cmp.Compare(a.cfg.Priority, b.cfg.Priority); c != 0 {
		return c
	}
	if c := cmp.Compare(specificity(&b.cfg.Sel), specificity(&a.cfg.Sel)); c != 0 {
		return c
	}
	return compareSelText(&a.cfg.Sel, &b.cfg.Sel)
}

// compareSelText orders two selectors as their texts (Selector.String)
// compare, the SPD's last tie-break. The texts are built on the stack
// when a tie needs them rather than kept with every policy: 64 octets an
// SPD entry, three entries a tunnel-mode child SA, at 100k child SAs.
func compareSelText(a, b *dataplane.Selector) int {
	var ab, bb [160]byte
	return bytes.Compare(appendSelText(ab[:0], a), appendSelText(bb[:0], b))
}

// appendSelText appends s.String() to b without allocating.
func appendSelText(b []byte, s *dataplane.Selector) []byte {
	b = append(b, "src "...)
	b = s.Src.AppendTo(b)
	b = append(b, " dst "...)
	b = s.Dst.AppendTo(b)
	if s.Proto != 0 {
		b = append(b, " proto "...)
		b = strconv.AppendUint(b, uint64(s.Proto), 10)
	}
	if s.SrcPort != 0 {
		b = append(b, " sport "...)
		b = strconv.AppendUint(b, uint64(s.SrcPort), 10)
	}
	if s.DstPort != 0 {
		b = append(b, " dport "...)
		b = strconv.AppendUint(b, uint64(s.DstPort), 10)
	}
	return b
}

// groupOf names the group and bucket of a policy.
func groupOf(p *policy) (v6 bool, srcBits, dstBits int, k addrPair) {
	s := &p.cfg.Sel
	return !s.Src.Addr().Is4(), s.Src.Bits(), s.Dst.Bits(), addrPair{s.Src.Masked().Addr(), s.Dst.Masked().Addr()}
}

// find returns the index of a group, or -1.
func (s *spd) find(v6 bool, srcBits, dstBits int) int {
	return slices.IndexFunc(s.groups, func(g *spdGroup) bool {
		return g.v6 == v6 && g.srcBits == srcBits && g.dstBits == dstBits
	})
}

// ownGroups makes the groups slice changeable by e.
func (s *spd) ownGroups(e *edit) {
	if s.edit != e {
		e.copied += len(s.groups)
		s.groups = slices.Clone(s.groups)
		s.edit = e
	}
}

// ownGroup makes group i changeable by e and returns it.
func (s *spd) ownGroup(e *edit, i int) *spdGroup {
	s.ownGroups(e)
	g := s.groups[i]
	if g.edit != e {
		c := *g
		c.edit = e
		s.groups[i] = &c
		g = &c
	}
	return g
}

// insert adds p after the policies that come before or tie with it.
func (s *spd) insert(e *edit, p *policy) {
	v6, sb, db, k := groupOf(p)
	i := s.find(v6, sb, db)
	if i < 0 {
		s.ownGroups(e)
		s.groups = append(s.groups, &spdGroup{v6: v6, srcBits: sb, dstBits: db,
			buckets: newPMap[addrPair, []*policy](hashAddrPair), edit: e})
		i = len(s.groups) - 1
	}
	g := s.ownGroup(e, i)
	old, _ := g.buckets.get(k)
	j := 0
	for j < len(old) && comparePolicies(old[j], p) <= 0 {
		j++
	}
	e.copied += len(old)
	g.buckets.set(e, k, slices.Concat(old[:j], []*policy{p}, old[j:]))
	g.n++
}

// remove takes p (this very entry) out.
func (s *spd) remove(e *edit, p *policy) {
	v6, sb, db, k := groupOf(p)
	i := s.find(v6, sb, db)
	if i < 0 {
		return
	}
	old, _ := s.groups[i].buckets.get(k)
	j := slices.Index(old, p)
	if j < 0 {
		return
	}
	g := s.ownGroup(e, i)
	if len(old) == 1 {
		g.buckets.del(e, k)
	} else {
		e.copied += len(old)
		g.buckets.set(e, k, slices.Concat(old[:j], old[j+1:]))
	}
	if g.n--; g.n == 0 {
		s.groups = slices.Delete(s.groups, i, i+1)
	}
}

// lookup returns the first policy in match order that matches f, or nil.
// It does not allocate.
func (s *spd) lookup(f *flow) *policy {
	var best *policy
	for _, g := range s.groups {
		if g.v6 != f.v6 {
			continue
		}
		src, _ := f.src.Prefix(g.srcBits)
		dst, _ := f.dst.Prefix(g.dstBits)
		list, _ := g.buckets.get(addrPair{src.Addr(), dst.Addr()})
		for _, p := range list {
			if matches(&p.cfg.Sel, f) {
				if best == nil || comparePolicies(p, best) < 0 {
					best = p
				}
				break
			}
		}
	}
	return best
}

// all yields the policies, in no particular order.
func (s *spd) all(yield func(*policy) bool) {
	for _, g := range s.groups {
		for _, list := range g.buckets.all() {
			for _, p := range list {
				if !yield(p) {
					return
				}
			}
		}
	}
}
