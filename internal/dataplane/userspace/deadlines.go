package userspace

import (
	"time"

	"secgw/internal/dataplane"
)

// Time limits that scale (RFC 4301 §4.4.2.1 soft and hard lifetimes of
// 100k SAs): instead of visiting every SA at each Tick, the installed SAs
// with a time limit still to fire sit in a min-heap ordered by the
// earliest such limit (their due time). A Tick pops the SAs that are due,
// fires their limits and puts back those with a limit left: its work is
// what is due, O(k log n), not the size of the SAD. Byte and packet
// limits stay checked where the packets are counted (sa.account).
//
// The heap holds the SAs of the live tables that had a time limit to fire
// when they were entered or last popped: the table ops enter an SA when
// it is added and take it out when it is deleted or replaced
// (tables.addSA and delSA, through the edit's deadlines), so a removed SA
// leaves nothing behind. A limit the packet path fired meanwhile (a byte
// or packet limit sets the same flags) is found fired when the SA is
// popped, which then goes back at its next limit or leaves. It and the
// SAs' hidx fields are guarded by Dataplane.mu, which every table writer
// holds.

// deadlineEntry is one SA in the heap. The due time is kept in the entry
// so that ordering the heap reads the heap's array, not the SAs.
type deadlineEntry struct {
	due int64 // nanoseconds after deadlines.epoch
	s   *sa
}

// deadlines is a 4-ary min-heap of SAs by due time; sa.hidx is the SA's
// index, -1 when it is not in the heap.
type deadlines struct {
	epoch time.Time
	h     []deadlineEntry
	// visited counts the SAs the ticks popped: the work of the expiry.
	visited uint64
}

const deadlineArity = 4

func newDeadlines(epoch time.Time) *deadlines { return &deadlines{epoch: epoch} }

// at is now as a due time.
func (d *deadlines) at(now time.Time) int64 { return int64(now.Sub(d.epoch)) }

// due returns the earliest time limit of s that has not fired, as a due
// time, and false when none is left.
func (d *deadlines) due(s *sa) (int64, bool) {
	l := &s.cfg.Limits
	added := d.at(s.st.added)
	var due int64
	ok := false
	if l.HardAdd != 0 && !s.st.hardFired.Load() {
		due, ok = added+int64(l.HardAdd), true
	}
	if l.SoftAdd != 0 && !s.st.softFired.Load() {
		if soft := added + int64(l.SoftAdd); !ok || soft < due {
			due, ok = soft, true
		}
	}
	return due, ok
}

// add enters s, just installed, when it has a time limit to fire.
func (d *deadlines) add(s *sa) {
	if due, ok := d.due(s); ok {
		d.set(s, due)
	}
}

// set puts s in the heap at due, or moves it there.
func (d *deadlines) set(s *sa, due int64) {
	if s.hidx < 0 {
		s.hidx = int32(len(d.h))
		d.h = append(d.h, deadlineEntry{due, s})
		d.up(int(s.hidx))
		return
	}
	old := d.h[s.hidx].due
	d.h[s.hidx].due = due
	if due < old {
		d.up(int(s.hidx))
	} else if due > old {
		d.down(int(s.hidx))
	}
}

// remove takes s out of the heap if it is in it.
func (d *deadlines) remove(s *sa) {
	i := int(s.hidx)
	if i < 0 {
		return
	}
	last := len(d.h) - 1
	if i != last {
		d.h[i] = d.h[last]
		d.h[i].s.hidx = int32(i)
	}
	d.h[last] = deadlineEntry{}
	d.h = d.h[:last]
	s.hidx = -1
	if i != last && !d.up(i) {
		d.down(i)
	}
}

// expired pops the SAs whose due time has come at now, fires their time
// limits (sa.expired: the hard one first, each once) and puts back those
// with a limit left. It returns the events to raise and the SAs a hard
// limit ended, which the caller takes out of the tables.
func (d *deadlines) expired(now time.Time, evs []dataplane.Event) ([]dataplane.Event, []*sa) {
	t := d.at(now)
	var hard []*sa
	for len(d.h) > 0 && d.h[0].due <= t {
		s := d.h[0].s
		d.visited++
		if reason, isHard := s.expired(now); reason != "" {
			if isHard {
				d.remove(s)
				hard = append(hard, s)
				evs = append(evs, dataplane.Event{Kind: dataplane.HardExpire, SA: s.cfg.Key(), Reason: reason})
				continue
			}
			evs = append(evs, dataplane.Event{Kind: dataplane.SoftExpire, SA: s.cfg.Key(), Reason: reason})
		}
		if due, ok := d.due(s); ok {
			// A limit left; one not reached by sa.expired's own
			// reading of the clock is tried again at the next tick.
			d.set(s, max(due, t+1))
		} else {
			// Nothing left to fire: a byte or packet limit fired
			// them meanwhile.
			d.remove(s)
		}
	}
	return evs, hard
}

// up moves element i towards the root; it reports whether it moved.
func (d *deadlines) up(i int) bool {
	h := d.h
	x := h[i]
	start := i
	for i > 0 {
		p := (i - 1) / deadlineArity
		if h[p].due <= x.due {
			break
		}
		h[i] = h[p]
		h[i].s.hidx = int32(i)
		i = p
	}
	h[i] = x
	x.s.hidx = int32(i)
	return i != start
}

func (d *deadlines) down(i int) {
	h := d.h
	x := h[i]
	n := len(h)
	for {
		c := deadlineArity*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+deadlineArity, n); j++ {
			if h[j].due < h[m].due {
				m = j
			}
		}
		if x.due <= h[m].due {
			break
		}
		h[i] = h[m]
		h[i].s.hidx = int32(i)
		i = m
	}
	h[i] = x
	x.s.hidx = int32(i)
}
