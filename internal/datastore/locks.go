package datastore

import "strconv"

// Lock locks a datastore for session (RFC 6241 §7.5). A lock held by
// another session is refused with lock-denied naming the holder; a lock on
// the candidate is refused while it holds changes of another session.
func (st *Store) Lock(ds Datastore, session uint32) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if holder, ok := st.locks[ds]; ok {
		return &Error{Tag: "lock-denied", Message: "the " + string(ds) + " datastore is locked by session " + strconv.FormatUint(uint64(holder), 10),
			Info: map[string]string{"session-id": strconv.FormatUint(uint64(holder), 10)}}
	}
	if ds == Candidate && st.journal.Len() > 0 && st.editor != session {
		return &Error{Tag: "lock-denied", Message: "the candidate holds uncommitted changes of session " + strconv.FormatUint(uint64(st.editor), 10) + ": commit or discard them first",
			Info: map[string]string{"session-id": "0"}}
	}
	st.locks[ds] = session
	return nil
}

// Unlock releases a lock the session holds.
func (st *Store) Unlock(ds Datastore, session uint32) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	holder, ok := st.locks[ds]
	if !ok || holder != session {
		return &Error{Tag: "operation-failed", Message: "the " + string(ds) + " datastore is not locked by this session"}
	}
	delete(st.locks, ds)
	return nil
}

// checkLock refuses a write to ds by a session that does not hold its lock
// while another does (error-tag in-use, RFC 6241 §7.2).
func (st *Store) checkLock(ds Datastore, session uint32) error {
	if holder, ok := st.locks[ds]; ok && holder != session {
		return &Error{Tag: "in-use", Message: "the " + string(ds) + " datastore is locked by session " + strconv.FormatUint(uint64(holder), 10),
			Info: map[string]string{"session-id": strconv.FormatUint(uint64(holder), 10)}}
	}
	return nil
}
