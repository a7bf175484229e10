// Package datastore holds secgw's configuration datastores (RFC 6241):
// candidate, where edits land, and running, which the subsystems apply.
// Running is persisted at every commit, so it is also the startup
// configuration: there is no separate :startup datastore.
//
// A commit is a transaction over typed diffs: validate the candidate (only
// what changed), offer the changes to every subscriber (any may refuse),
// persist, swap, then apply; if a step fails, everything done is undone in
// reverse order and running stays exactly as it was.
package datastore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"secgw/generated"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

// Tx is one commit, as subscribers see it.
type Tx struct {
	ID      uint64 // commit number
	Old     *generated.Device
	New     *generated.Device
	Changes []Change
	User    string
	Comment string
}

// Subscriber is a subsystem that applies configuration. Calls for one Tx
// come in the order Prepare, then Apply, with Abort on failure; they never
// overlap with calls for another Tx.
type Subscriber interface {
	// Name identifies the subscriber in error messages.
	Name() string
	// Prepare checks that tx can be applied; an error refuses the commit
	// and its message reaches the operator.
	Prepare(tx *Tx) error
	// Apply makes tx effective. An error aborts the commit.
	Apply(tx *Tx) error
	// Abort undoes what Prepare (and Apply, if it ran) did for tx.
	Abort(tx *Tx)
}

// Error is a datastore failure with its NETCONF error-tag (RFC 6241
// Appendix A).
type Error struct {
	Tag     string // in-use, lock-denied, operation-failed, data-missing...
	Message string
	// Info holds error-info elements, e.g. session-id for lock-denied.
	Info map[string]string
	Err  error
}

// Error implements error.
func (e *Error) Error() string { return "datastore: " + e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Options configure a Store.
type Options struct {
	Dir       string // where running and the history live; created if missing
	Schema    *schema.Schema
	Validator *validate.Validator
	// History is the number of commits kept for rollback (default 50).
	History int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// FullValidation forces a whole-tree validation at every commit
	// instead of validating the changed subtrees.
	FullValidation bool
}

// Store holds the datastores. Its methods are safe for concurrent use;
// commits are serialized.
type Store struct {
	opt Options

	mu        sync.Mutex
	running   *generated.Device
	candidate *generated.Device // nil until the first edit after a commit
	editor    uint32            // session that modified the candidate
	locks     map[Datastore]uint32
	subs      []Subscriber
	commits   uint64
	history   []Record
	confirm   *pendingConfirm
}

// Datastore names a datastore.
type Datastore string

// The datastores.
const (
	Running   Datastore = "running"
	Candidate Datastore = "candidate"
)

const runningFile = "running.json"

// Open loads running from opt.Dir (an empty configuration with vrf main on
// first start) and validates it.
func Open(opt Options) (*Store, error) {
	if opt.History == 0 {
		opt.History = 50
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(opt.Dir, "history"), 0o700); err != nil {
		return nil, fmt.Errorf("datastore: %w", err)
	}
	st := &Store{opt: opt, locks: map[Datastore]uint32{}}
	b, err := os.ReadFile(filepath.Join(opt.Dir, runningFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		st.running = &generated.Device{}
		st.running.GetOrCreateVrf("main")
	case err != nil:
		return nil, fmt.Errorf("datastore: %w", err)
	default:
		if st.running, err = decodeConfig(opt.Schema, b); err != nil {
			return nil, fmt.Errorf("datastore: %s: %w", filepath.Join(opt.Dir, runningFile), err)
		}
	}
	if err := opt.Validator.Validate(st.running); err != nil {
		return nil, fmt.Errorf("datastore: the stored configuration is not valid: %w", err)
	}
	if err := st.loadHistory(); err != nil {
		return nil, err
	}
	return st, nil
}

// Subscribe adds a subscriber; subscribers are prepared and applied in the
// order they were added, and aborted in reverse order.
func (st *Store) Subscribe(s Subscriber) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.subs = append(st.subs, s)
}

// Running returns the running configuration. It is shared: callers must
// not modify it.
func (st *Store) Running() *generated.Device {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.running
}

// Candidate returns a copy of the candidate configuration (running when the
// candidate has no changes).
func (st *Store) Candidate() *generated.Device {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.candidate == nil {
		return Clone(st.running)
	}
	return Clone(st.candidate)
}

// Dirty reports whether the candidate holds uncommitted changes.
func (st *Store) Dirty() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.candidate != nil
}

// Edit runs fn on the candidate for session. If fn fails, the candidate is
// left as it was before the call (RFC 6241 rollback-on-error is the
// caller's choice: it may call Edit once per operation).
func (st *Store) Edit(session uint32, fn func(c *generated.Device) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	base := st.candidate
	if base == nil {
		base = st.running
	}
	work := Clone(base)
	if err := fn(work); err != nil {
		return err
	}
	st.candidate = work
	st.editor = session
	return nil
}

// Discard drops the candidate's changes (discard-changes, RFC 6241 §8.3.4.2).
func (st *Store) Discard(session uint32) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	st.candidate = nil
	st.editor = 0
	return nil
}

// Validate validates the candidate (the validate operation).
func (st *Store) Validate() error {
	c := st.Candidate()
	return st.opt.Validator.Validate(c)
}
