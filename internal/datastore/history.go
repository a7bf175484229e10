package datastore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"secgw/internal/rpcerr"
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
	st.history = append(st.history, st.persistRecord(rec))
	for len(st.history) > st.opt.History {
		st.opt.crashPoint.reached("remove history")
		_ = os.Remove(st.historyPath(st.history[0].ID))
		st.history = st.history[1:]
	}
}

// persistRecord writes rec to the history directory and returns what the
// history keeps in memory: rec without its ops once they are on disk,
// rec itself if they could not be written.
func (st *Store) persistRecord(rec *commitRecord) *commitRecord {
	b, err := json.Marshal(rec)
	if err == nil {
		err = writeAtomic(st.historyPath(rec.ID), b, st.opt.crashPoint)
	}
	if err != nil {
		return rec
	}
	light := *rec
	light.Forward, light.Inverse = nil, nil
	light.onDisk, light.changes = true, len(rec.Forward)
	return &light
}

// withOps returns r with its ops, read back from its file if the history
// keeps it without them.
func (st *Store) withOps(r *commitRecord) (*commitRecord, error) {
	if !r.onDisk {
		return r, nil
	}
	b, err := os.ReadFile(st.historyPath(r.ID))
	if err != nil {
		return nil, fmt.Errorf("datastore: history of commit %d: %w", r.ID, err)
	}
	var full commitRecord
	if err := json.Unmarshal(b, &full); err != nil || full.ID != r.ID {
		return nil, fmt.Errorf("datastore: history of commit %d: damaged (%v)", r.ID, err)
	}
	if full.Model < modelNACM {
		full.Forward, _ = migrateOps(full.Forward)
		full.Inverse, _ = migrateOps(full.Inverse)
	}
	return &full, nil
}

// recordHead is a commit record's file without the ops' contents: what
// loadHistory keeps.
type recordHead struct {
	Kind    string     `json:"kind,omitempty"`
	ID      uint64     `json:"id"`
	Time    time.Time  `json:"time"`
	User    string     `json:"user,omitempty"`
	Comment string     `json:"comment,omitempty"`
	Forward []struct{} `json:"forward"`
	Pending bool       `json:"pending,omitempty"`
	Aborts  uint64     `json:"aborts,omitempty"`
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
		var h recordHead
		if json.Unmarshal(b, &h) != nil || h.ID > st.commits {
			continue // damaged, or a commit the journal lost: skipped, never fatal
		}
		st.history = append(st.history, &commitRecord{Kind: h.Kind, ID: h.ID, Time: h.Time, User: h.User, Comment: h.Comment,
			Pending: h.Pending, Aborts: h.Aborts, onDisk: true, changes: len(h.Forward)})
	}
	st.restoreHistory()
	return nil
}

// restoreHistory puts back the commits that the journal holds and the
// history directory lacks: a kill -9 between the journal write and the
// history file, or a full disk, loses the file but not the commit. It
// also keeps the records of aborted commits (the commit and its undo),
// which a rollback across them needs. st.replayed is dropped after.
func (st *Store) restoreHistory() {
	replayed := st.replayed
	st.replayed = nil
	have := make(map[uint64]bool, len(st.history))
	for _, r := range st.history {
		have[r.ID] = true
	}
	added := false
	for _, r := range replayed {
		if have[r.ID] {
			continue
		}
		have[r.ID] = true
		st.history = append(st.history, st.persistRecord(r))
		added = true
	}
	if !added {
		return
	}
	sort.Slice(st.history, func(i, j int) bool { return st.history[i].ID < st.history[j].ID })
	for len(st.history) > st.opt.History {
		_ = os.Remove(st.historyPath(st.history[0].ID))
		st.history = st.history[1:]
	}
}

// missingMessage says why commit id cannot be rolled back: it is older
// than what the history keeps, or commits after it are missing from the
// history (lost to a crash or a full disk after the journal that held
// them was compacted). It names the missing commits, so that an operator
// knows what a rollback would have to skip.
func (st *Store) missingMessage(id uint64) string {
	have := make(map[uint64]bool, len(st.history))
	for _, r := range st.history {
		have[r.ID] = true
	}
	var missing []uint64
	for c := id + 1; c <= st.commits; c++ {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	kept := "no commits"
	if n := len(st.history); n > 0 {
		kept = "commits " + idRanges(historyIDs(st.history))
	}
	oldest := uint64(0)
	if len(st.history) > 0 {
		oldest = st.history[0].ID
	}
	// Only the commits just after id are missing, before the oldest kept
	// one, and the history is full: id is older than what it keeps.
	if len(st.history) >= st.opt.History && len(missing) > 0 && missing[len(missing)-1] < oldest &&
		uint64(len(missing)) == oldest-id-1 {
		return fmt.Sprintf("commit %d is too old: the history keeps the last %d commits (%s)", id, st.opt.History, kept)
	}
	return fmt.Sprintf("commit %d cannot be rolled back: the history lacks commit %s after it "+
		"(its record was lost, e.g. to a crash or a full disk, after the journal holding it was compacted); "+
		"the history holds %s", id, idRanges(missing), kept)
}

func historyIDs(h []*commitRecord) []uint64 {
	ids := make([]uint64, len(h))
	for i, r := range h {
		ids[i] = r.ID
	}
	return ids
}

// idRanges writes sorted ids as "3-5, 8".
func idRanges(ids []uint64) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(ids[i], 10))
		if j > i {
			b.WriteString("-" + strconv.FormatUint(ids[j], 10))
		}
		i = j + 1
	}
	return b.String()
}

// History lists the kept commits, oldest first.
func (st *Store) History() []Record {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]Record, len(st.history))
	for i, r := range st.history {
		out[i] = Record{ID: r.ID, Time: r.Time, User: r.User, Comment: r.Comment, Changes: len(r.Forward)}
		if r.onDisk {
			out[i].Changes = r.changes
		}
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
		return fail(rpcerr.Error{Tag: "invalid-value", Message: fmt.Sprintf("commit %d does not exist (the last is %d)", id, st.commits)})
	}
	// The records after id, which must all be kept.
	var undo []*commitRecord
	for _, r := range st.history {
		if r.ID > id {
			undo = append(undo, r)
		}
	}
	if uint64(len(undo)) != st.commits-id {
		return fail(rpcerr.Error{Tag: "data-missing", Message: st.missingMessage(id)})
	}
	for i, r := range undo {
		full, err := st.withOps(r)
		if err != nil {
			return fail(rpcerr.Error{Tag: "operation-failed", Message: fmt.Sprintf("cannot roll back commit %d: %v", r.ID, err), Err: err})
		}
		undo[i] = full
	}
	st.discardLocked()
	root := st.editRoot()
	for i := len(undo) - 1; i >= 0; i-- {
		if err := applyOps(st.opt.Schema, root, undo[i].Inverse); err != nil {
			st.discardLocked()
			return fail(rpcerr.Error{Tag: "operation-failed", Message: fmt.Sprintf("cannot roll back commit %d: %v", undo[i].ID, err), Err: err})
		}
	}
	st.editor = session
	return nil
}
