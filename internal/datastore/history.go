package datastore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Record describes one commit of the history.
type Record struct {
	ID      uint64
	Time    time.Time
	User    string
	Comment string
	Changes int
}

func (st *Store) historyPath(id uint64) string {
	return filepath.Join(st.opt.Dir, "history", fmt.Sprintf("%08d.json", id))
}

// remember keeps commit rec for rollback, in memory and on disk, and
// forgets the oldest beyond the history size. Failing to write history
// does not fail the commit: the journal has it.
func (st *Store) remember(rec *commitRecord) {
	if b, err := json.Marshal(rec); err == nil {
		_ = writeAtomic(st.historyPath(rec.ID), b, st.opt.crashPoint)
	}
	st.history = append(st.history, rec)
	for len(st.history) > st.opt.History {
		st.opt.crashPoint.reached("remove history")
		_ = os.Remove(st.historyPath(st.history[0].ID))
		st.history = st.history[1:]
	}
}

func (st *Store) loadHistory() error {
	files, err := filepath.Glob(filepath.Join(st.opt.Dir, "history", "*.json"))
	if err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	sort.Strings(files)
	if len(files) > st.opt.History {
		files = files[len(files)-st.opt.History:]
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r commitRecord
		if json.Unmarshal(b, &r) != nil || r.ID > st.commits {
			continue // damaged, or a commit the journal lost: skipped, never fatal
		}
		st.history = append(st.history, &r)
	}
	return nil
}

// History lists the kept commits, oldest first.
func (st *Store) History() []Record {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]Record, len(st.history))
	for i, r := range st.history {
		out[i] = Record{ID: r.ID, Time: r.Time, User: r.User, Comment: r.Comment, Changes: len(r.Forward)}
	}
	return out
}

// Rollback puts the configuration of commit id into the candidate (its
// uncommitted changes are dropped); a commit then makes it running, like
// 'rollback N' then 'commit'.
func (st *Store) Rollback(session uint32, id uint64) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	if id > st.commits {
		return &Error{Tag: "invalid-value", Message: fmt.Sprintf("commit %d does not exist (the last is %d)", id, st.commits)}
	}
	// The records after id, which must all be kept.
	var undo []*commitRecord
	next := id + 1
	for _, r := range st.history {
		if r.ID <= id {
			continue
		}
		if r.ID != next {
			return &Error{Tag: "data-missing", Message: fmt.Sprintf("commit %d is too old: the history keeps the last %d commits", id, st.opt.History)}
		}
		undo = append(undo, r)
		next++
	}
	if next != st.commits+1 {
		return &Error{Tag: "data-missing", Message: fmt.Sprintf("commit %d is too old: the history keeps the last %d commits", id, st.opt.History)}
	}
	st.discardLocked()
	root := st.opt.Schema.JournaledRoot(st.candidate, st.journal)
	for i := len(undo) - 1; i >= 0; i-- {
		if err := applyOps(st.opt.Schema, root, undo[i].Inverse); err != nil {
			st.discardLocked()
			return &Error{Tag: "operation-failed", Message: fmt.Sprintf("cannot roll back commit %d: %v", undo[i].ID, err), Err: err}
		}
	}
	st.editor = session
	return nil
}
