package datastore

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"secgw/generated"
)

// CommitOptions are the parameters of a commit (RFC 6241 §8.3.4.1, §8.4).
type CommitOptions struct {
	Session uint32
	User    string
	Comment string
	// Confirmed makes the commit revert after Timeout unless confirmed by
	// a later commit (RFC 6241 §8.4).
	Confirmed bool
	// Timeout of a confirmed commit (default 600 s).
	Timeout time.Duration
	// Persist makes a confirmed commit survive the end of its session; a
	// later commit confirms it by giving the same value as PersistID.
	Persist   string
	PersistID string
}

// pendingConfirm is a confirmed commit waiting for its confirmation.
type pendingConfirm struct {
	before  *generated.Device // running before the confirmed commit
	session uint32
	persist string
	timer   *time.Timer
}

// ErrNoChanges is not an error for callers: the commit had nothing to do.
var errNoChanges = errors.New("no changes")

// Commit makes the candidate running, as one transaction. With no
// candidate changes it still confirms a pending confirmed commit.
func (st *Store) Commit(opt CommitOptions) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.checkLock(Running, opt.Session); err != nil {
		return err
	}
	if c := st.confirm; c != nil {
		// A commit while a confirmed commit is pending confirms it (or
		// extends it, if confirmed again). A persistent one needs its id.
		if c.persist != "" && opt.PersistID != c.persist {
			return &Error{Tag: "invalid-value", Message: "a persistent confirmed commit is pending: give its persist-id to confirm it"}
		}
		if c.persist == "" && opt.PersistID != "" {
			return &Error{Tag: "invalid-value", Message: "no persistent confirmed commit is pending for this persist-id"}
		}
	} else if opt.PersistID != "" {
		return &Error{Tag: "invalid-value", Message: "no confirmed commit is pending for this persist-id"}
	}
	before := st.running
	if err := st.commitLocked(opt); err != nil && !errors.Is(err, errNoChanges) {
		return err
	}
	if c := st.confirm; c != nil {
		c.timer.Stop()
		before = c.before
		st.confirm = nil
	}
	if opt.Confirmed {
		timeout := opt.Timeout
		if timeout == 0 {
			timeout = 600 * time.Second
		}
		pc := &pendingConfirm{before: before, session: opt.Session, persist: opt.Persist}
		pc.timer = time.AfterFunc(timeout, func() { st.expire(pc) })
		st.confirm = pc
	}
	return nil
}

// commitLocked runs the transaction from candidate to running.
func (st *Store) commitLocked(opt CommitOptions) error {
	if st.candidate == nil {
		return errNoChanges
	}
	next := st.candidate
	changes := Diff(st.opt.Schema, st.running, next)
	if len(changes) == 0 {
		st.candidate, st.editor = nil, 0
		return errNoChanges
	}
	if err := st.validateChanges(next, changes); err != nil {
		return err
	}
	if err := st.transact(next, changes, opt.User, opt.Comment); err != nil {
		return err
	}
	st.candidate, st.editor = nil, 0
	return nil
}

// validateChanges validates what changed; a large change set is validated
// in full, which is then cheaper.
func (st *Store) validateChanges(next *generated.Device, changes []Change) error {
	if st.opt.FullValidation || len(changes) > 64 {
		return st.opt.Validator.Validate(next)
	}
	for _, c := range changes {
		if err := st.opt.Validator.ValidateChange(next, c.Path); err != nil {
			return err
		}
	}
	return nil
}

// transact prepares, persists, swaps and applies next; on any failure it
// aborts in reverse order and leaves running (in memory and on disk) as it
// was.
func (st *Store) transact(next *generated.Device, changes []Change, user, comment string) error {
	tx := &Tx{ID: st.commits + 1, Old: st.running, New: next, Changes: changes, User: user, Comment: comment}
	for i, s := range st.subs {
		if err := s.Prepare(tx); err != nil {
			for j := i - 1; j >= 0; j-- {
				st.subs[j].Abort(tx)
			}
			return &Error{Tag: "operation-failed", Message: fmt.Sprintf("%s refused the commit: %v", s.Name(), err), Err: err}
		}
	}
	abortAll := func() {
		for j := len(st.subs) - 1; j >= 0; j-- {
			st.subs[j].Abort(tx)
		}
	}
	b := encodeConfig(st.opt.Schema, next)
	if err := writeAtomic(filepath.Join(st.opt.Dir, runningFile), b); err != nil {
		abortAll()
		return &Error{Tag: "operation-failed", Message: "cannot persist the configuration: " + err.Error(), Err: err}
	}
	old := st.running
	st.running = next
	for _, s := range st.subs {
		if err := s.Apply(tx); err != nil {
			// Every subscriber was prepared; those that applied undo it.
			abortAll()
			st.running = old
			_ = writeAtomic(filepath.Join(st.opt.Dir, runningFile), encodeConfig(st.opt.Schema, old))
			return &Error{Tag: "operation-failed", Message: fmt.Sprintf("%s could not apply the commit: %v", s.Name(), err), Err: err}
		}
	}
	st.commits++
	st.record(tx, b)
	return nil
}

// CancelCommit reverts a pending confirmed commit now (RFC 6241 §8.4.9).
func (st *Store) CancelCommit(session uint32, persistID string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := st.confirm
	if c == nil {
		return &Error{Tag: "operation-failed", Message: "no confirmed commit is pending"}
	}
	if c.persist != "" && persistID != c.persist {
		return &Error{Tag: "invalid-value", Message: "the pending confirmed commit is persistent: give its persist-id"}
	}
	if c.persist == "" && c.session != session {
		return &Error{Tag: "operation-failed", Message: "the pending confirmed commit belongs to another session"}
	}
	return st.revertLocked(c, "cancel-commit")
}

// SessionEnded releases the session's locks and reverts its pending
// non-persistent confirmed commit (RFC 6241 §8.4.1).
func (st *Store) SessionEnded(session uint32) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for ds, holder := range st.locks {
		if holder == session {
			delete(st.locks, ds)
		}
	}
	if c := st.confirm; c != nil && c.persist == "" && c.session == session {
		_ = st.revertLocked(c, "session ended")
	}
}

func (st *Store) expire(c *pendingConfirm) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.confirm != c {
		return // confirmed or cancelled meanwhile: the timer is stale
	}
	_ = st.revertLocked(c, "confirm timeout")
}

// revertLocked restores the configuration that preceded a confirmed commit,
// through a normal transaction so that every subscriber follows.
func (st *Store) revertLocked(c *pendingConfirm, why string) error {
	c.timer.Stop()
	st.confirm = nil
	changes := Diff(st.opt.Schema, st.running, c.before)
	if len(changes) == 0 {
		return nil
	}
	return st.transact(c.before, changes, "", "rollback of a confirmed commit: "+why)
}

// ConfirmPending reports whether a confirmed commit waits for confirmation.
func (st *Store) ConfirmPending() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.confirm != nil
}
