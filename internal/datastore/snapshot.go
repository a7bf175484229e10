package datastore

import (
	"sync"

	"secgw/generated"
)

// snapshots caches one immutable copy of running and one of the candidate
// for the readers that must not hold the store's lock while they work: a
// NETCONF <get> whose filter takes long would otherwise stall every edit,
// commit and other reader behind it. A copy is made at the
// first read after a change, under the read lock, which a writer then
// waits for as long as one Clone takes; the evaluation that follows runs
// without any lock. Readers share the copy and never modify it.
type snapshots struct {
	mu sync.Mutex // serializes the making of copies; taken before Store.mu

	running   *generated.Device
	runningID uint64 // Store.commits when running was copied

	candidate *generated.Device
	candGen   uint64 // Store.gen when candidate was copied
}

// lockW takes the write lock. Every write goes through it, so that gen
// counts the changes the candidate may have had, and a cached copy of it
// is known to be stale. Running changes only at a commit, which moves
// Store.commits.
func (st *Store) lockW() {
	st.mu.Lock()
	st.gen++
}

// Snapshot returns a copy of datastore ds (Running or Candidate) as it is
// now, which the caller may keep and read without any lock, from any
// number of goroutines, but must never modify: it is shared with other
// readers. Consecutive calls without a change in between return the same
// copy. Making one costs a Clone under the read lock; a candidate without
// uncommitted changes is running, and shares its copy.
func (st *Store) Snapshot(ds Datastore) *generated.Device {
	c := &st.snap
	c.mu.Lock()
	defer c.mu.Unlock()
	st.mu.RLock()
	defer st.mu.RUnlock()
	if ds == Candidate && st.journal.Len() > 0 {
		if c.candidate == nil || c.candGen != st.gen {
			c.candidate, c.candGen = Clone(st.candidate), st.gen
		}
		return c.candidate
	}
	if c.running == nil || c.runningID != st.commits {
		c.running, c.runningID = Clone(st.running), st.commits
	}
	// Drop a stale candidate copy early: it is garbage now.
	if st.journal.Len() == 0 {
		c.candidate = nil
	}
	return c.running
}
