package datastore

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"secgw/internal/rpcerr"
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

// commitRecord is one commit as the journal file and the history keep
// it, or, in the journal only, a change of the confirmed-commit state that
// came without a commit (Kind).
type commitRecord struct {
	// Kind is empty for a commit, kindConfirmEnd for the end of a pending
	// confirmed commit that no commit record carries (confirm.go).
	Kind    string    `json:"kind,omitempty"`
	ID      uint64    `json:"id"` // the commit; for kindConfirmEnd, the last commit then
	Time    time.Time `json:"time"`
	User    string    `json:"user,omitempty"`
	Comment string    `json:"comment,omitempty"`
	Forward []op      `json:"forward"`
	Inverse []op      `json:"inverse"`
	// Pending is set on a commit after which a confirmed commit is
	// pending (RFC 6241 §8.4.1): the commit that began it, or a follow-up
	// confirmed commit. Its Inverse is then part of what a revert undoes.
	// A commit without it ends any pending confirmed commit.
	Pending bool `json:"pending,omitempty"`
	// Aborts is set on the record that takes back a commit whose apply
	// failed (transact): the id of that commit, the record just before.
	// The confirmed-commit state goes back to the one before that commit.
	Aborts uint64 `json:"aborts,omitempty"`
	// Model is the layout of the ops' paths: 0 for a record written
	// before access control moved to /nacm (legacy.go), modelNACM since.
	Model int `json:"model,omitempty"`

	// In the history kept in memory, a record whose file was written
	// holds no ops (onDisk; changes counts them): a bulk commit's ops
	// are the size of what it loaded, and rollback, which needs them,
	// reads them back (Store.withOps).
	onDisk  bool
	changes int
}

var errNoChanges = errors.New("no changes")

// Commit makes the candidate running, as one transaction. With no
// candidate changes it still confirms a pending confirmed commit.
func (st *Store) Commit(opt CommitOptions) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Running, opt.Session); err != nil {
		return err
	}
	c := st.confirm
	switch {
	case c != nil && c.persist != "" && opt.PersistID != c.persist:
		return fail(rpcerr.Error{Tag: "invalid-value", Message: "a persistent confirmed commit is pending: give its persist-id to confirm it"})
	case c != nil && c.persist == "" && opt.PersistID != "":
		return fail(rpcerr.Error{Tag: "invalid-value", Message: "no persistent confirmed commit is pending for this persist-id"})
	case c == nil && opt.PersistID != "":
		return fail(rpcerr.Error{Tag: "invalid-value", Message: "no confirmed commit is pending for this persist-id"})
	case c != nil && c.persist == "" && c.session != opt.Session:
		// RFC 6241 §8.4.1: only the session that issued a non-persistent
		// confirmed commit can confirm it (or extend it).
		return fail(rpcerr.Error{Tag: "in-use", Message: fmt.Sprintf("a confirmed commit of session %d is pending: only that session can confirm it", c.session)})
	}
	rec, err := st.commitLocked(opt.User, opt.Comment, opt.Session, opt.Confirmed)
	if err != nil && !errors.Is(err, errNoChanges) {
		return err
	}
	if rec == nil && c != nil && !opt.Confirmed {
		// A confirming commit with nothing to commit: no commit record
		// says that the confirmed commit is over, so that a restart
		// would revert what was just confirmed. Say it in the journal
		// before answering.
		if err := st.journalConfirmEnd("confirmed"); err != nil {
			return fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot persist the confirmation: " + err.Error(), Err: err})
		}
	}
	if c != nil {
		c.timer.Stop()
		if rec != nil {
			c.undo = append(c.undo, rec.Inverse)
		}
		st.confirm = nil
		if opt.Confirmed {
			// A confirmed commit during a pending one extends it (§8.4.5).
			st.confirm = c
		}
	} else if opt.Confirmed {
		st.confirm = &pendingConfirm{}
		if rec != nil {
			st.confirm.undo = [][]op{rec.Inverse}
		}
	}
	if opt.Confirmed {
		timeout := opt.Timeout
		if timeout == 0 {
			timeout = 600 * time.Second
		}
		pc := st.confirm
		pc.session, pc.persist = opt.Session, opt.Persist
		pc.timer = time.AfterFunc(timeout, func() { st.expire(pc) })
	}
	if rec != nil {
		st.snapshotIfDue()
	}
	return nil
}

// commitLocked runs the transaction from candidate to running; pending
// tells whether a confirmed commit is pending after it (commitRecord).
func (st *Store) commitLocked(user, comment string, session uint32, pending bool) (*commitRecord, error) {
	if st.journal.Len() == 0 {
		return nil, errNoChanges
	}
	changes := diffJournal(st.opt.Schema, st.running, st.candidate, st.journal)
	if len(changes) == 0 {
		st.discardLocked()
		return nil, errNoChanges
	}
	if err := st.validateChanges(changes); err != nil {
		return nil, err
	}
	if st.opt.Check != nil {
		if err := st.opt.Check(st.candidate, changes); err != nil {
			return nil, err
		}
	}
	rec, err := st.transact(changes, user, comment, session, pending)
	if err != nil {
		return nil, err
	}
	st.journal.Reset()
	st.editor = 0
	return rec, nil
}

// validateChanges validates what changed; a large change set is validated
// in full, which is then cheaper.
func (st *Store) validateChanges(changes []Change) error {
	if len(changes) > 256 {
		return st.opt.Validator.Validate(st.candidate)
	}
	for _, c := range changes {
		if err := st.opt.Validator.ValidateChange(st.candidate, c.Path); err != nil {
			return err
		}
	}
	return nil
}

// transact prepares, persists and applies the changes from running to the
// candidate, then brings running up to date; on any failure it aborts in
// reverse order and running (in memory and on disk) stays as it was.
func (st *Store) transact(changes []Change, user, comment string, session uint32, pending bool) (*commitRecord, error) {
	start := time.Now()
	defer func() { st.stats.add(time.Since(start)) }()
	s := st.opt.Schema
	fwd, inv, err := opsFor(s, s.RootNode(st.running), s.RootNode(st.candidate), changes)
	if err != nil {
		return nil, fail(rpcerr.Error{Tag: "operation-failed", Message: err.Error(), Err: err})
	}
	tx := &Tx{ID: st.commits + 1, Old: st.running, New: st.candidate, Changes: changes, User: user, Session: session, Comment: comment}
	for i, sub := range st.subs {
		if err := sub.Prepare(tx); err != nil {
			for j := i - 1; j >= 0; j-- {
				st.subs[j].Abort(tx)
			}
			// A subscriber may name the rpc-error tag (ErrorTagger, e.g.
			// operation-not-supported for what its backend cannot do),
			// and, with an *rpcerr.Error, the error-path of the node it
			// refuses.
			tag, path := "operation-failed", ""
			if et := ErrorTagger(nil); errors.As(err, &et) && et.ErrorTag() != "" {
				tag = et.ErrorTag()
			}
			if re := (*rpcerr.Error)(nil); errors.As(err, &re) {
				path = re.Path
			}
			return nil, fail(rpcerr.Error{Tag: tag, Path: path, Message: fmt.Sprintf("%s refused the commit: %v", sub.Name(), err), Err: err})
		}
	}
	abortAll := func() {
		for j := len(st.subs) - 1; j >= 0; j-- {
			st.subs[j].Abort(tx)
		}
	}
	rec := &commitRecord{ID: tx.ID, Time: st.opt.Now().UTC(), User: user, Comment: comment, Forward: fwd, Inverse: inv, Pending: pending, Model: modelNACM}
	payload, err := json.Marshal(rec)
	if err == nil {
		err = st.wal.append(payload)
	}
	if err != nil {
		abortAll()
		return nil, fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot persist the configuration: " + err.Error(), Err: err})
	}
	for _, sub := range st.subs {
		if err := sub.Apply(tx); err != nil {
			// Every subscriber was prepared; those that applied undo it.
			abortAll()
			// The commit is on disk: journal its inverse, so that a
			// restart does not bring it back, nor the confirmed-commit
			// state it carried (Aborts).
			undo := &commitRecord{ID: tx.ID + 1, Time: rec.Time, Comment: fmt.Sprintf("abort of commit %d", tx.ID), Forward: inv, Inverse: fwd,
				Aborts: tx.ID, Model: modelNACM}
			if p, err2 := json.Marshal(undo); err2 == nil {
				_ = st.wal.append(p)
			}
			st.commits = undo.ID
			// Both ids are used: the history keeps them, so that a
			// rollback across the pair (a no-op) finds no gap, and a
			// restart, which restores them from the journal, changes
			// nothing.
			st.remember(rec)
			st.remember(undo)
			return nil, fail(rpcerr.Error{Tag: "operation-failed", Message: fmt.Sprintf("%s could not apply the commit: %v", sub.Name(), err), Err: err})
		}
	}
	// The candidate becomes running as it is: it differs from running in
	// the changes just journaled, and shares every other node with it.
	// From now on nobody writes into it: the next edit copies what it
	// changes.
	st.running = st.candidate
	st.commits = tx.ID
	st.publish()
	st.journaled++
	st.remember(rec)
	return rec, nil
}

// snapshotIfDue writes running in full and empties the journal once
// SnapshotEvery commits are in it, or SnapshotBytes of records. The callers make it the last step of a
// call that journaled a commit, after the confirmed-commit state is up to
// date: the snapshot carries that state, and every confirm-end record
// with the snapshot's commit id comes after it (Open relies on both).
// A crash between the write and the reset leaves records the snapshot
// already holds; Open skips them by id.
func (st *Store) snapshotIfDue() {
	bySize := st.opt.SnapshotBytes > 0 && st.wal.size >= st.opt.SnapshotBytes
	if st.journaled < st.opt.SnapshotEvery && !bySize {
		return
	}
	st.snapshot()
}

// snapshot writes running to the snapshot file and empties the journal;
// a failure leaves the journal holding everything.
func (st *Store) snapshot() {
	b, err := encodeSnapshot(st.opt.Schema, st.running, st.commits, st.confirm)
	if err != nil {
		return // the journal still holds everything
	}
	if err := writeAtomic(filepath.Join(st.opt.Dir, runningFile), b, st.opt.crashPoint); err != nil {
		return
	}
	if st.wal.reset() == nil {
		st.journaled = 0
		// running came from validated commits: sealed (seal.go). A
		// failed write leaves an older seal, which does not match.
		_ = writeSeal(st.opt.Dir, st.opt.RulesID, b, nil)
	}
}

// commitStats count the transactions to running and their time, for the
// metrics (CommitStats).
type commitStats struct {
	n, ns atomic.Uint64
}

func (c *commitStats) add(d time.Duration) {
	c.n.Add(1)
	c.ns.Add(uint64(d))
}

// CommitStats returns how many transactions to running were attempted
// (commits, confirmed-commit reverts, rollbacks, loads of startup;
// refused ones included) and the time they took in all. It takes no lock.
func (st *Store) CommitStats() (n uint64, total time.Duration) {
	return st.stats.n.Load(), time.Duration(st.stats.ns.Load())
}
