package childsa

import (
	"errors"

	"secgw/internal/dataplane"
)

// reqIDPool allocates reqids from a range in O(1): the ids released
// (a free list, the last released first), else the lowest never used.
//
// Allocation is in two steps, because an install may fail after it
// chose its reqid: peek names the id the next child would get, and take
// records it once the child's entries are applied. The caller holds the
// Programmer's lock from peek to take, so that take always gets what
// peek returned.
type reqIDPool struct {
	r dataplane.ReqIDRange
	// next is the lowest id never taken; every id from next to r.Max
	// is free. A uint64, so that it can pass r.Max = 2^32-1.
	next uint64
	// free holds the released ids below next.
	free []uint32
}

func newReqIDPool(r dataplane.ReqIDRange) *reqIDPool {
	return &reqIDPool{r: r, next: uint64(r.Min)}
}

// errNoReqID is peek's error when every id of the range is taken.
var errNoReqID = errors.New("dataplane: no free reqid")

// peek returns the id the next take will record.
func (p *reqIDPool) peek() (uint32, error) {
	if n := len(p.free); n > 0 {
		return p.free[n-1], nil
	}
	if p.next > uint64(p.r.Max) {
		return 0, errNoReqID
	}
	return uint32(p.next), nil
}

// take records id, the value peek returned, as used.
func (p *reqIDPool) take(id uint32) {
	if n := len(p.free); n > 0 && p.free[n-1] == id {
		p.free = p.free[:n-1]
		return
	}
	if uint64(id) == p.next {
		p.next++
		return
	}
	panic("childsa: reqid taken without peek")
}

// release makes id, taken before, free again.
func (p *reqIDPool) release(id uint32) {
	if uint64(id)+1 == p.next && len(p.free) == 0 {
		p.next--
		return
	}
	p.free = append(p.free, id)
}
