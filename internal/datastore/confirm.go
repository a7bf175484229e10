package datastore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// A confirmed commit (RFC 6241 §8.4) is durable in the journal: a process
// killed while one is pending reverts it at the next Open (§8.4.1, see
// Open). The journal says, for every commit, whether a confirmed commit
// is pending after it (commitRecord.Pending); the commits from the one
// that began it to the last one are what a revert undoes, newest first.
// A confirmed commit can also end without a commit record saying so — a
// confirming commit with nothing to commit, a revert with nothing to
// undo, a revert that failed — and a kindConfirmEnd record then says it.
// A commit whose apply failed is taken back by the next record
// (commitRecord.Aborts), and so is its change of the state.
// A snapshot carries the pending state, since it empties the journal
// (fileForm.Confirm).
//
// Every transition is one journal record, written and fsynced before the
// operation is acknowledged, so a kill at any instant leaves either the
// state before the operation or the state after it.

// kindConfirmEnd is a journal record that ends the pending confirmed
// commit without a commit.
const kindConfirmEnd = "confirm-end"

// pendingConfirm is a confirmed commit waiting for its confirmation.
type pendingConfirm struct {
	session uint32
	persist string
	timer   *time.Timer // nil for one found at Open
	// undo holds the inverse operations of every commit made since the
	// confirmed commit began, oldest first.
	undo [][]op
}

// journalConfirmEnd writes a kindConfirmEnd record; why goes in its
// comment.
func (st *Store) journalConfirmEnd(why string) error {
	p, err := json.Marshal(&commitRecord{Kind: kindConfirmEnd, ID: st.commits, Time: st.opt.Now().UTC(), Comment: why})
	if err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	return st.wal.append(p)
}

// replay carries the journal's records out on running, which holds the
// snapshot's commits (up to st.commits) and the confirmed commit that was
// pending at the snapshot, and returns the confirmed commit pending after
// the last record (nil: none).
//
// Commit records up to the snapshot's id are in it already (a crash
// between a snapshot and the reset of the journal leaves them). A
// confirm-end record with the snapshot's id came after the snapshot:
// snapshotIfDue runs in the call that journaled that commit, and a
// confirm-end is only ever journaled by a later call.
//
// The records are carried out through a journal of their own, which
// copies each node it writes into (schema's cow.go): the decoded running
// shares equal containers among its VPNs (share.go), and a record that
// changes one VPN's must not change the others'.
func (st *Store) replay(recs [][]byte, pending *pendingConfirm) (*pendingConfirm, error) {
	snap := st.commits
	j := schema.NewJournal()
	st.running = j.Own(st.running)
	root := st.opt.Schema.JournaledRoot(st.running, j)
	defer j.Reset()
	var before *pendingConfirm // the state before the last commit replayed
	for _, payload := range recs {
		var r commitRecord
		if err := json.Unmarshal(payload, &r); err != nil {
			return nil, fmt.Errorf("datastore: journal: %w", err)
		}
		if r.Model < modelNACM {
			var m1, m2 bool
			r.Forward, m1 = migrateOps(r.Forward)
			r.Inverse, m2 = migrateOps(r.Inverse)
			if (m1 || m2) && r.ID > snap {
				st.migrated = legacyNACM
			}
		}
		switch r.Kind {
		case "":
			if r.ID <= snap {
				continue
			}
			if err := applyOps(st.opt.Schema, root, r.Forward); err != nil {
				return nil, fmt.Errorf("datastore: journal, commit %d: %w", r.ID, err)
			}
			aborts := r.Aborts != 0 && r.Aborts == st.commits
			st.commits = r.ID
			st.journaled++
			st.replayed = append(st.replayed, &r)
			if aborts {
				// The aborted commit never happened: neither did its
				// change of the confirmed-commit state. (No snapshot
				// comes between a commit and its abort.)
				pending = before
				continue
			}
			before = pending
			if before != nil {
				// Undo lists only grow, so before keeps its elements;
				// capped, so that growing it after an abort copies
				// the array instead of writing over pending's.
				before = &pendingConfirm{undo: pending.undo[:len(pending.undo):len(pending.undo)]}
			}
			if !r.Pending {
				pending = nil
				continue
			}
			if pending == nil {
				pending = &pendingConfirm{}
			}
			pending.undo = append(pending.undo, r.Inverse)
		case kindConfirmEnd:
			if r.ID >= snap {
				pending = nil
			}
		default:
			// A journal from a newer version must not be half-loaded.
			return nil, fmt.Errorf("datastore: journal: unknown record kind %q", r.Kind)
		}
	}
	return pending, nil
}

// CancelCommit reverts a pending confirmed commit now (RFC 6241 §8.4.4.1).
func (st *Store) CancelCommit(session uint32, persistID string) error {
	st.lockW()
	defer st.mu.Unlock()
	c := st.confirm
	if c == nil {
		return fail(rpcerr.Error{Tag: "operation-failed", Message: "no confirmed commit is pending"})
	}
	if c.persist != "" && persistID != c.persist {
		return fail(rpcerr.Error{Tag: "invalid-value", Message: "the pending confirmed commit is persistent: give its persist-id"})
	}
	if c.persist == "" && c.session != session {
		return fail(rpcerr.Error{Tag: "operation-failed", Message: "the pending confirmed commit belongs to another session"})
	}
	return st.revertOrDrop(c, "cancel-commit")
}

func (st *Store) expire(c *pendingConfirm) {
	st.lockW()
	defer st.mu.Unlock()
	if st.confirm != c {
		return // confirmed or cancelled meanwhile: the timer is stale
	}
	_ = st.revertOrDrop(c, "confirm timeout")
}

// revertOrDrop reverts c; if that fails, c is dropped all the same, in
// memory and in the journal, so that the two agree: the configuration it
// brought stays running, as after a confirmation.
func (st *Store) revertOrDrop(c *pendingConfirm, why string) error {
	err := st.revertLocked(c, why)
	if err != nil {
		_ = st.journalConfirmEnd("revert failed: " + why)
	}
	return err
}

// revertLocked restores the configuration that preceded a confirmed commit
// through a normal transaction, so that every subscriber follows, and
// ends the pending state durably: by the revert's commit record, or by a
// confirm-end record when there was nothing to revert. The candidate's
// uncommitted changes are dropped. On failure nothing is journaled (but
// for what transact journals itself) and the candidate is clean.
func (st *Store) revertLocked(c *pendingConfirm, why string) error {
	if c.timer != nil {
		c.timer.Stop()
	}
	st.confirm = nil
	st.discardLocked()
	root := st.editRoot()
	for i := len(c.undo) - 1; i >= 0; i-- {
		if err := applyOps(st.opt.Schema, root, c.undo[i]); err != nil {
			st.discardLocked()
			return fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot revert the confirmed commit: " + err.Error(), Err: err})
		}
	}
	_, err := st.commitLocked("", "rollback of a confirmed commit: "+why, 0, false)
	switch {
	case err == nil:
		st.snapshotIfDue()
		return nil
	case errors.Is(err, errNoChanges):
		if err := st.journalConfirmEnd(why); err != nil {
			return fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot persist the end of the confirmed commit: " + err.Error(), Err: err})
		}
		return nil
	}
	// The revert's edits belong to no session: left in the candidate,
	// they would block every lock on it (RFC 6241 §7.5).
	st.discardLocked()
	return err
}

// ConfirmPending reports whether a confirmed commit waits for confirmation.
func (st *Store) ConfirmPending() bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.confirm != nil
}
