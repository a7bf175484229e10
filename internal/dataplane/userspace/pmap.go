package userspace

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"net/netip"
	"slices"

	"secgw/internal/dataplane"
)

// pmap is a persistent hash map: a hash array mapped trie (HAMT, Bagwell
// 2001). Each node takes 5 bits of the key's 64-bit hash and holds, for
// each digit in use, either one entry or a child node; entries whose
// hashes agree on all 64 bits share a collision node at the bottom.
//
// An update copies the nodes on the path to its entry (about log32 n of
// them, each at most 32 slots) and shares every other node with the map
// it came from, which stays valid and unchanged: a reader that loaded a
// version of the tables keeps a consistent view without locks while the
// writer builds the next one. Updates made under one edit token change
// the nodes that token already copied in place, so a batch copies each
// path once.
//
// The zero pmap is not usable: newPMap sets the hash function. Copying a
// pmap value copies the map (the new value shares the nodes).
type pmap[K comparable, V any] struct {
	root *pnode[K, V]
	n    int
	hash func(K) uint64
}

// pnode is one node of a pmap. Nodes reachable from a published table
// are never changed.
type pnode[K comparable, V any] struct {
	bitmap uint32 // the digits with a slot; 0 in a collision node
	slots  []pslot[K, V]
	// edit is the token of the batch that created the node: that batch
	// may change it in place.
	edit *edit
}

// pslot is a child node or one entry. Entries sit behind a pointer so
// that a node is small to copy (16 octets a slot, whatever K and V).
type pslot[K comparable, V any] struct {
	sub *pnode[K, V]
	e   *pentry[K, V]
}

// pentry is one key and value; never changed once in a node (a new value
// is a new entry).
type pentry[K comparable, V any] struct {
	hash uint64
	key  K
	val  V
}

// edit is the token of one batch of updates (one Apply), compared by
// address (it must not be of size zero: such pointers may all be equal).
// copied counts the slots its updates copied from shared nodes: the work
// of the batch. deadlines, when set, is the heap of time limits the
// batch's SA adds and deletes keep up to date (deadlines.go).
type edit struct {
	copied    int
	deadlines *deadlines
}

const (
	pbits = 5
	pmask = 1<<pbits - 1
)

func newPMap[K comparable, V any](hash func(K) uint64) pmap[K, V] {
	return pmap[K, V]{hash: hash}
}

// len is the number of entries.
func (m *pmap[K, V]) len() int { return m.n }

// get returns the value of k. It does not allocate.
func (m *pmap[K, V]) get(k K) (V, bool) {
	h := m.hash(k)
	n := m.root
	for shift := uint(0); n != nil; shift += pbits {
		if shift >= 64 {
			for i := range n.slots {
				if e := n.slots[i].e; e.key == k {
					return e.val, true
				}
			}
			break
		}
		bit := uint32(1) << (h >> shift & pmask)
		if n.bitmap&bit == 0 {
			break
		}
		s := &n.slots[bits.OnesCount32(n.bitmap&(bit-1))]
		if s.sub != nil {
			n = s.sub
			continue
		}
		if s.e.hash == h && s.e.key == k {
			return s.e.val, true
		}
		break
	}
	var zero V
	return zero, false
}

// set makes k map to v, under the edit token e.
func (m *pmap[K, V]) set(e *edit, k K, v V) {
	added := false
	m.root = m.root.set(e, 0, m.hash(k), k, v, &added)
	if added {
		m.n++
	}
}

// del removes k, under the edit token e, and reports whether it was there.
func (m *pmap[K, V]) del(e *edit, k K) bool {
	removed := false
	m.root = m.root.del(e, 0, m.hash(k), k, &removed)
	if removed {
		m.n--
	}
	return removed
}

// all yields every entry, in no particular order.
func (m *pmap[K, V]) all() iter.Seq2[K, V] {
	root := m.root
	return func(yield func(K, V) bool) { root.walk(yield) }
}

func (n *pnode[K, V]) walk(yield func(K, V) bool) bool {
	if n == nil {
		return true
	}
	for i := range n.slots {
		s := &n.slots[i]
		if s.sub != nil {
			if !s.sub.walk(yield) {
				return false
			}
		} else if !yield(s.e.key, s.e.val) {
			return false
		}
	}
	return true
}

// own returns n if e may change it, else a copy of it that e may change,
// with room for extra more slots (an owned node grows by append).
func (n *pnode[K, V]) own(e *edit, extra int) *pnode[K, V] {
	if n.edit == e {
		return n
	}
	e.copied += len(n.slots)
	c := &pnode[K, V]{bitmap: n.bitmap, edit: e, slots: make([]pslot[K, V], len(n.slots), len(n.slots)+extra)}
	copy(c.slots, n.slots)
	return c
}

// set returns n with k mapped to v; shift is the hash bit n's digit starts
// at. n may be nil.
func (n *pnode[K, V]) set(e *edit, shift uint, h uint64, k K, v V, added *bool) *pnode[K, V] {
	leaf := pslot[K, V]{e: &pentry[K, V]{hash: h, key: k, val: v}}
	if n == nil {
		*added = true
		return leafNode(e, shift, leaf)
	}
	if shift >= 64 {
		for i := range n.slots {
			if n.slots[i].e.key == k {
				c := n.own(e, 0)
				c.slots[i] = leaf
				return c
			}
		}
		*added = true
		c := n.own(e, 1)
		c.slots = append(c.slots, leaf)
		return c
	}
	bit := uint32(1) << (h >> shift & pmask)
	i := bits.OnesCount32(n.bitmap & (bit - 1))
	if n.bitmap&bit == 0 {
		*added = true
		c := n.own(e, 1)
		c.slots = slices.Insert(c.slots, i, leaf)
		c.bitmap |= bit
		return c
	}
	s := &n.slots[i]
	switch {
	case s.sub != nil:
		sub := s.sub.set(e, shift+pbits, h, k, v, added)
		if sub == s.sub {
			return n // changed in place
		}
		c := n.own(e, 0)
		c.slots[i].sub = sub
		return c
	case s.e.hash == h && s.e.key == k:
		c := n.own(e, 0)
		c.slots[i] = leaf
		return c
	default:
		// Two entries share this digit: both go one level down.
		sub := leafNode(e, shift+pbits, *s)
		sub = sub.set(e, shift+pbits, h, k, v, added)
		c := n.own(e, 0)
		c.slots[i] = pslot[K, V]{sub: sub}
		return c
	}
}

// leafNode returns a new node, whose digit starts at shift, holding the
// one entry leaf.
func leafNode[K comparable, V any](e *edit, shift uint, leaf pslot[K, V]) *pnode[K, V] {
	c := &pnode[K, V]{slots: []pslot[K, V]{leaf}, edit: e}
	if shift < 64 {
		c.bitmap = 1 << (leaf.e.hash >> shift & pmask)
	}
	return c
}

// del returns n without k (nil when empty). A child left with a single
// entry is folded into its parent, so that the trie stays as shallow as
// the hashes need.
func (n *pnode[K, V]) del(e *edit, shift uint, h uint64, k K, removed *bool) *pnode[K, V] {
	if n == nil {
		return nil
	}
	if shift >= 64 {
		for i := range n.slots {
			if n.slots[i].e.key == k {
				*removed = true
				if len(n.slots) == 1 {
					return nil
				}
				c := n.own(e, 0)
				c.slots = slices.Delete(c.slots, i, i+1)
				return c
			}
		}
		return n
	}
	bit := uint32(1) << (h >> shift & pmask)
	if n.bitmap&bit == 0 {
		return n
	}
	i := bits.OnesCount32(n.bitmap & (bit - 1))
	s := &n.slots[i]
	if s.sub == nil {
		if s.e.hash != h || s.e.key != k {
			return n
		}
		*removed = true
		if len(n.slots) == 1 {
			return nil
		}
		c := n.own(e, 0)
		c.slots = slices.Delete(c.slots, i, i+1)
		c.bitmap &^= bit
		return c
	}
	sub := s.sub.del(e, shift+pbits, h, k, removed)
	if !*removed {
		return n
	}
	switch {
	case sub == nil:
		if len(n.slots) == 1 {
			return nil
		}
		c := n.own(e, 0)
		c.slots = slices.Delete(c.slots, i, i+1)
		c.bitmap &^= bit
		return c
	case len(sub.slots) == 1 && sub.slots[0].sub == nil:
		c := n.own(e, 0)
		c.slots[i] = sub.slots[0]
		return c
	case sub == s.sub:
		return n // changed in place
	default:
		c := n.own(e, 0)
		c.slots[i].sub = sub
		return c
	}
}

// Hash functions of the table keys. They are fixed (not seeded): the
// keys are chosen by this gateway's configuration and its IKE engine
// (SPIs are random), and a collision only lengthens one path of the trie.

// mix64 is the finalizer of SplitMix64: every input bit affects every
// output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func hashAddr(a netip.Addr) uint64 {
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	return mix64(hi^mix64(lo^uint64(a.BitLen()))) + uint64(a.BitLen())
}

func hashU32(v uint32) uint64 { return mix64(uint64(v) + 0x9e3779b97f4a7c15) }

func hashSAKey(k dataplane.SAKey) uint64 { return mix64(hashAddr(k.Dst) ^ uint64(k.SPI)) }

func hashOutKey(k outKey) uint64 { return mix64(hashAddr(k.dst) ^ uint64(k.reqID)<<1) }

func hashPrefix(p netip.Prefix) uint64 { return mix64(hashAddr(p.Addr()) ^ uint64(p.Bits()+1)) }

func hashPolicyKey(k dataplane.PolicyKey) uint64 {
	s := &k.Sel
	h := mix64(hashPrefix(s.Src) ^ hashPrefix(s.Dst)<<1)
	h = mix64(h ^ uint64(s.Proto)<<32 ^ uint64(s.SrcPort)<<16 ^ uint64(s.DstPort))
	return mix64(h ^ uint64(k.Dir)<<40 ^ uint64(k.Mark.Value)<<8 ^ uint64(k.Mark.Mask)<<3 ^ uint64(k.IfID)<<20)
}

func hashAddrPair(k addrPair) uint64 { return mix64(hashAddr(k.src) ^ hashAddr(k.dst)<<1) }
