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
	ID      uint64    `json:"id"`
	Time    time.Time `json:"time"`
	User    string    `json:"user,omitempty"`
	Comment string    `json:"comment,omitempty"`
	Changes int       `json:"changes"`
}

type historyFile struct {
	Record
	Config json.RawMessage `json:"config"`
}

func (st *Store) historyPath(id uint64) string {
	return filepath.Join(st.opt.Dir, "history", fmt.Sprintf("%08d.json", id))
}

// record keeps the configuration of commit tx, and forgets the oldest
// beyond the history size. Failing to write history does not fail the
// commit: running is already persisted.
func (st *Store) record(tx *Tx, config []byte) {
	r := Record{ID: tx.ID, Time: st.opt.Now().UTC(), User: tx.User, Comment: tx.Comment, Changes: len(tx.Changes)}
	b, err := json.Marshal(historyFile{Record: r, Config: config})
	if err == nil {
		err = writeAtomic(st.historyPath(r.ID), b)
	}
	if err != nil {
		return
	}
	st.history = append(st.history, r)
	for len(st.history) > st.opt.History {
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
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var h historyFile
		if json.Unmarshal(b, &h) != nil {
			continue // a damaged history entry is skipped, never fatal
		}
		st.history = append(st.history, h.Record)
		if h.ID > st.commits {
			st.commits = h.ID
		}
	}
	if len(st.history) > st.opt.History {
		st.history = st.history[len(st.history)-st.opt.History:]
	}
	return nil
}

// History lists the kept commits, oldest first.
func (st *Store) History() []Record {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]Record(nil), st.history...)
}

// Rollback loads the configuration of commit id into the candidate; a
// commit then makes it running (like 'rollback N' then 'commit').
func (st *Store) Rollback(session uint32, id uint64) error {
	b, err := os.ReadFile(st.historyPath(id))
	if err != nil {
		return &Error{Tag: "data-missing", Message: fmt.Sprintf("commit %d is not in the history", id), Err: err}
	}
	var h historyFile
	if err := json.Unmarshal(b, &h); err != nil {
		return &Error{Tag: "operation-failed", Message: fmt.Sprintf("commit %d is damaged in the history", id), Err: err}
	}
	d, err := decodeConfig(st.opt.Schema, h.Config)
	if err != nil {
		return &Error{Tag: "operation-failed", Message: fmt.Sprintf("commit %d is damaged in the history", id), Err: err}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	st.candidate, st.editor = d, session
	return nil
}
