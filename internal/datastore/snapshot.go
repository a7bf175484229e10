package datastore

import (
	"sync"

	"secgw/generated"
)

// snapshots caches the candidate as readers last saw it. Readers must not
// hold the store's lock while they work: a NETCONF <get> whose filter
// takes long would otherwise stall every edit, commit and other reader
// behind it. No copy is made for them: running is immutable (a commit
// replaces it), and a snapshot of the candidate makes the journal share
// the candidate's nodes (schema.Journal.Share), so that the next edit
// copies what it writes into instead of changing what the readers hold.
type snapshots struct {
	mu sync.Mutex // serializes the sharing of the candidate; taken before Store.mu

	candidate *generated.Device
	candGen   uint64 // Store.gen when candidate was shared
}

// lockW takes the write lock. Every write goes through it, so that gen
// counts the changes the candidate may have had, and a cached snapshot of
// it is known to be stale. Running changes only at a commit, which moves
// Store.commits.
func (st *Store) lockW() {
	st.mu.Lock()
	st.gen++
}

// Snapshot returns datastore ds (Running or Candidate) as it is now,
// which the caller may keep and read without any lock, from any number
// of goroutines, but must never modify: it shares its nodes with the
// datastores and with other readers. Consecutive calls without a change in
// between return the same tree.
//
// Running costs one atomic load and never waits: during a commit it is
// the configuration of the commit before. The candidate with uncommitted
// changes waits for an edit or commit in progress (it is the tree they
// change); without changes it is running.
func (st *Store) Snapshot(ds Datastore) *generated.Device {
	if ds == Running {
		return st.current()
	}
	c := &st.snap
	c.mu.Lock()
	defer c.mu.Unlock()
	st.mu.RLock()
	defer st.mu.RUnlock()
	// The candidate shares running's nodes, and is running when clean.
	running := st.current()
	if st.journal.Len() == 0 {
		c.candidate = nil // garbage now
		return running
	}
	if c.candidate == nil || c.candGen != st.gen {
		// Writers are excluded (read lock), other snapshots too
		// (c.mu): nothing else touches the journal's ownership now.
		st.journal.Share()
		st.candShared = true
		c.candidate, c.candGen = st.candidate, st.gen
	}
	return c.candidate
}

// version is one version of running, as readers get it.
type version struct {
	id uint64
	d  *generated.Device
}

// current returns running for a reader, which may keep it: the version
// it gets is marked as handed out before it is returned. A commit
// publishes the next version first, then reads handedOut: if the mark
// came too late for it (after the commit's read), the version was
// replaced before the mark, which the second load sees, and the reader
// takes the new one.
func (st *Store) current() *generated.Device {
	for {
		v := st.published.Load()
		st.markHandedOut(v.id)
		if st.published.Load() == v {
			return v.d
		}
	}
}

// markHandedOut raises handedOut to id.
func (st *Store) markHandedOut(id uint64) {
	for {
		h := st.handedOut.Load()
		if h >= id || st.handedOut.CompareAndSwap(h, id) {
			return
		}
	}
}

// publish makes st.running the version readers get, under the write lock
// (or in Open), then lets the journal reuse the maps of the versions no
// reader holds (schema.Journal.Commit).
func (st *Store) publish() {
	st.versions++
	if st.candShared {
		st.markHandedOut(st.versions)
		st.candShared = false
	}
	st.published.Store(&version{id: st.versions, d: st.running})
	st.journal.Commit(st.versions, st.handedOut.Load())
}
