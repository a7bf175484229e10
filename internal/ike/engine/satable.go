package engine

import (
	"encoding/binary"
	"io"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
)

// The IKE SA table (global-options sa-table-size and sa-table-segments,
// the vsr guide's "IKE SA hash table parameters"): sa-table-size buckets,
// each a chain of IKE SAs through ikeSA.tnext, spread over
// sa-table-segments segments with a lock each; bucket b belongs to segment
// b mod segments. Like strongSwan's ikesa_table_size and
// ikesa_table_segments (whose semantics the vsr knobs are), both are
// rounded up to a power of two and there are never more segments than
// buckets.
//
// The knobs are real: a chain is walked on every lookup, so with the
// default of one bucket a lookup costs a walk over every IKE SA. The vsr
// guide says to raise sa-table-size when many SAs are managed; the engine
// logs a warning once the chains grow long (maxMeanChain).
//
// The table only finds an IKE SA by our SPI. What an SA holds is
// protected by its worker's lock, not by the segment's: a segment lock is
// a leaf, taken with or without a worker lock held, and never held while
// taking another lock.
type saTable struct {
	mask, segMask uint64
	buckets       []*ikeSA
	segs          []tableSegment
	count         atomic.Int64
	warned        atomic.Bool
	log           *slog.Logger
}

type tableSegment struct {
	mu sync.RWMutex
	// reserved are our SPIs of IKE SAs a rekey is creating: no new SA
	// may take them (nil until one is reserved).
	reserved map[uint64]struct{}
	_        [32]byte // keeps two segments' locks off one cache line
}

// Limits of the table's shape: sa-table-size and sa-table-segments are
// 32-bit in the model, a table of 2^32 buckets would take 32 GiB.
const (
	maxTableSize     = 1 << 22
	maxTableSegments = 1 << 12
	// maxMeanChain is the mean chain length above which the engine
	// warns that sa-table-size is too small.
	maxMeanChain = 16
)

// powerOfTwo rounds n up to a power of two within 1..limit.
func powerOfTwo(n, limit int) int {
	if n <= 1 {
		return 1
	}
	if n >= limit {
		return limit
	}
	return 1 << bits.Len(uint(n-1))
}

func newSATable(size, segments int, log *slog.Logger) *saTable {
	size = powerOfTwo(size, maxTableSize)
	segments = min(powerOfTwo(segments, maxTableSegments), size)
	return &saTable{mask: uint64(size - 1), segMask: uint64(segments - 1),
		buckets: make([]*ikeSA, size), segs: make([]tableSegment, segments), log: log}
}

// shape returns the effective number of buckets and segments.
func (t *saTable) shape() (size, segments int) { return len(t.buckets), len(t.segs) }

// bucket hashes an SPI. Our SPIs are random, but a test's random source
// may not be: the SPI is mixed (the finalizer of splitmix64) so that any
// set of SPIs spreads over the buckets.
func (t *saTable) bucket(spi uint64) uint64 {
	spi ^= spi >> 30
	spi *= 0xbf58476d1ce4e5b9
	spi ^= spi >> 27
	spi *= 0x94d049bb133111eb
	spi ^= spi >> 31
	return spi & t.mask
}

func (t *saTable) segment(b uint64) *tableSegment { return &t.segs[b&t.segMask] }

// get returns the IKE SA whose SPI (ours) is spi, or nil.
func (t *saTable) get(spi uint64) *ikeSA {
	b := t.bucket(spi)
	s := t.segment(b)
	s.mu.RLock()
	sa := t.buckets[b]
	for sa != nil && sa.id != spi {
		sa = sa.tnext
	}
	s.mu.RUnlock()
	return sa
}

// insertNew gives sa a random SPI of r that no IKE SA uses or has
// reserved, and inserts it.
func (t *saTable) insertNew(sa *ikeSA, r io.Reader) {
	for {
		spi := randomSPI(r)
		if t.insert(sa, spi) {
			return
		}
	}
}

// insert puts sa in the table under spi, unless the SPI is taken or
// reserved (without reserved, which the rekey that reserved it may
// take); it reports whether it did.
func (t *saTable) insert(sa *ikeSA, spi uint64) bool {
	b := t.bucket(spi)
	s := t.segment(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	for x := t.buckets[b]; x != nil; x = x.tnext {
		if x.id == spi {
			return false
		}
	}
	if _, ok := s.reserved[spi]; ok {
		if sa.id != spi { // only the SA created for the reservation
			return false
		}
		delete(s.reserved, spi)
	}
	sa.id = spi
	sa.tnext = t.buckets[b]
	t.buckets[b] = sa
	if n := t.count.Add(1); n > int64(len(t.buckets))*maxMeanChain && t.warned.CompareAndSwap(false, true) {
		t.log.Warn("the IKE SA table is too small for the number of IKE SAs: raise global-options sa-table-size",
			"ike-sas", n, "sa-table-size", len(t.buckets))
	}
	return true
}

// remove takes sa out of the table; it is idempotent.
func (t *saTable) remove(sa *ikeSA) {
	b := t.bucket(sa.id)
	s := t.segment(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := &t.buckets[b]; *p != nil; p = &(*p).tnext {
		if *p == sa {
			*p = sa.tnext
			sa.tnext = nil
			t.count.Add(-1)
			return
		}
	}
}

// reserve returns a random SPI of r that no IKE SA uses, reserved for the
// IKE SA a rekey creates (insert with sa.id set to it takes it).
func (t *saTable) reserve(r io.Reader) uint64 {
	for {
		spi := randomSPI(r)
		b := t.bucket(spi)
		s := t.segment(b)
		s.mu.Lock()
		free := true
		for x := t.buckets[b]; x != nil && free; x = x.tnext {
			free = x.id != spi
		}
		if _, ok := s.reserved[spi]; ok {
			free = false
		}
		if free {
			if s.reserved == nil {
				s.reserved = map[uint64]struct{}{}
			}
			s.reserved[spi] = struct{}{}
		}
		s.mu.Unlock()
		if free {
			return spi
		}
	}
}

// release frees a reservation that no IKE SA took.
func (t *saTable) release(spi uint64) {
	s := t.segment(t.bucket(spi))
	s.mu.Lock()
	delete(s.reserved, spi)
	s.mu.Unlock()
}

// len returns the number of IKE SAs in the table.
func (t *saTable) len() int { return int(t.count.Load()) }

func randomSPI(r io.Reader) uint64 {
	for {
		var b [8]byte
		io.ReadFull(r, b[:])
		if spi := binary.BigEndian.Uint64(b[:]); spi != 0 {
			return spi
		}
	}
}
