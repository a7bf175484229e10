package datastore

import (
	"strconv"

	"secgw/internal/rpcerr"
)

// Lock locks a datastore for session (RFC 6241 §7.5). A lock held by
// another session is refused with lock-denied naming the holder; a lock on
// the candidate is refused while it holds changes of another session; a
// lock on running is refused while another session's confirmed commit is
// pending (§7.5: "The target configuration is <running>, and another
// NETCONF session has an ongoing confirmed commit"), since the revert the
// lock could not stop would change running under it. A persistent
// confirmed commit belongs to whoever knows its persist-id, no session:
// error-info names session 0 for it.
func (st *Store) Lock(ds Datastore, session uint32) error {
	st.lockW()
	defer st.mu.Unlock()
	if holder, ok := st.locks[ds]; ok {
		return fail(rpcerr.Error{Tag: "lock-denied", Message: "the " + string(ds) + " datastore is locked by session " + strconv.FormatUint(uint64(holder), 10),
			Info: map[string]string{"session-id": strconv.FormatUint(uint64(holder), 10)}})
	}
	if c := st.confirm; ds == Running && c != nil && c.session != session {
		id := strconv.FormatUint(uint64(c.session), 10)
		msg := "a confirmed commit of session " + id + " is pending: running can be locked once it is confirmed or cancelled"
		if c.persist != "" {
			id = "0"
			msg = "a persistent confirmed commit is pending: running can be locked once it is confirmed or cancelled"
		}
		return fail(rpcerr.Error{Tag: "lock-denied", Message: msg, Info: map[string]string{"session-id": id}})
	}
	if ds == Candidate && st.journal.Len() > 0 && st.editor != session {
		return fail(rpcerr.Error{Tag: "lock-denied", Message: "the candidate holds uncommitted changes of session " + strconv.FormatUint(uint64(st.editor), 10) + ": commit or discard them first",
			Info: map[string]string{"session-id": "0"}})
	}
	st.locks[ds] = session
	return nil
}

// Unlock releases a lock the session holds; the candidate's uncommitted
// changes go with its lock (releaseLocked).
func (st *Store) Unlock(ds Datastore, session uint32) error {
	st.lockW()
	defer st.mu.Unlock()
	holder, ok := st.locks[ds]
	if !ok || holder != session {
		return fail(rpcerr.Error{Tag: "operation-failed", Message: "the " + string(ds) + " datastore is not locked by this session"})
	}
	st.releaseLocked(ds)
	return nil
}

// SessionEnded releases the session's locks, with the candidate's
// uncommitted changes if it held the candidate's lock (releaseLocked),
// and reverts its pending non-persistent confirmed commit (RFC 6241
// §8.4.1). Changes a session made to the candidate without locking it
// stay: the candidate is shared (§8.3.1) and the RFC discards changes
// only with a lock.
func (st *Store) SessionEnded(session uint32) {
	st.lockW()
	defer st.mu.Unlock()
	for ds, holder := range st.locks {
		if holder == session {
			st.releaseLocked(ds)
		}
	}
	if c := st.confirm; c != nil && c.persist == "" && c.session == session {
		_ = st.revertOrDrop(c, "session ended")
	}
}

// releaseLocked drops the lock on ds. Releasing the candidate's lock
// discards its uncommitted changes, RFC 6241 §8.3.5.2: "any outstanding
// changes are discarded when the lock is released, whether explicitly
// with the <unlock> operation or implicitly from session failure." While
// the lock was held only its holder could change the candidate, and the
// lock was only granted on a candidate that was clean or held the
// holder's own changes (Lock), so what is dropped is the holder's. This
// is what lets a client that locks (Ansible's netconf_config, lock:
// always) in after another one died with changes under its lock.
func (st *Store) releaseLocked(ds Datastore) {
	delete(st.locks, ds)
	if ds == Candidate {
		st.discardLocked()
	}
}

// checkLock refuses a write to ds by a session that does not hold its lock
// while another does (error-tag in-use, RFC 6241 §7.2).
func (st *Store) checkLock(ds Datastore, session uint32) error {
	if holder, ok := st.locks[ds]; ok && holder != session {
		return fail(rpcerr.Error{Tag: "in-use", Message: "the " + string(ds) + " datastore is locked by session " + strconv.FormatUint(uint64(holder), 10),
			Info: map[string]string{"session-id": strconv.FormatUint(uint64(holder), 10)}})
	}
	return nil
}
