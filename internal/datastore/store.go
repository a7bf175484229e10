// Package datastore holds secgw's configuration datastores (RFC 6241):
// candidate, where edits land, running, which the subsystems apply, and
// startup, a copy of running saved on purpose that a boot loads
// (startup.go). Running is persisted at every commit.
//
// A commit is a transaction over typed diffs: validate what changed, offer
// the changes to every subscriber (any may refuse), persist, apply; if a
// step fails, everything done is undone in reverse order and running stays
// exactly as it was.
//
// Every cost scales with the change, not with the configuration: the
// candidate is edited through a schema.Journal (undo and touched nodes),
// which copies the nodes an edit writes into and shares the others with
// running (copy on write); a commit diffs only the touched nodes,
// validates only the changed subtrees, appends only the changed subtrees
// to a journal file, and makes the candidate running. Running is never
// written into, so readers take it as it is, without a copy or a lock,
// and keep it (Snapshot). A snapshot of running is written now and then,
// so that a restart replays a short journal.
package datastore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"secgw/generated"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

// Tx is one commit, as subscribers see it. Old and New are the running
// configuration before and after; a subscriber reads them during the
// calls only, and copies what it keeps: they share their nodes with the
// other versions of the configuration, and once no reader holds Old,
// the store reuses its maps for the candidate (schema's recycle.go).
type Tx struct {
	ID      uint64 // commit number
	Old     *generated.Device
	New     *generated.Device
	Changes []Change
	User    string
	Session uint32 // NETCONF session that committed; 0 for the store itself
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

// fail is a datastore failure as an rpc-error (RFC 6241 Appendix A):
// error-type protocol for the lock errors (lock-denied, in-use, whose
// error-info names the holder's session-id), application for the others
// (operation-failed, invalid-value, data-missing...). Error() prefixes
// the message with "datastore: ".
func fail(e rpcerr.Error) *rpcerr.Error {
	e.Source = "datastore"
	e.Type = rpcerr.TypeApplication
	if e.Tag == rpcerr.TagLockDenied || e.Tag == rpcerr.TagInUse {
		e.Type = rpcerr.TypeProtocol
	}
	return &e
}

// ErrorTagger is an error of a subscriber's Prepare that names the
// rpc-error tag of the refused commit (RFC 6241 Appendix A), instead of
// operation-failed.
type ErrorTagger interface {
	error
	ErrorTag() string
}

// Options configure a Store.
type Options struct {
	Dir       string // where running, the journal and the history live
	Schema    *schema.Schema
	Validator *validate.Validator
	// History is the number of commits kept for rollback (default 50).
	History int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SnapshotEvery is the number of journaled commits after which running
	// is written in full and the journal emptied (default 1000).
	SnapshotEvery int
	// SnapshotBytes is the journal size after which running is written
	// in full and the journal emptied, whatever the number of commits in
	// it (default DefaultSnapshotBytes; negative: by count only). A
	// restart replays the whole journal, so its size bounds the restart
	// time: a few commits of a large configuration must not grow it
	// without limit.
	SnapshotBytes int64
	// Check, if set, refuses at commit and validate what the changes
	// from running to the candidate set that the runtime does not act on
	// (internal/support); it sees only the changes, so a node committed
	// before it existed stays until changed.
	Check func(d *generated.Device, changes []Change) error
	// RulesID names the validation rules: the build of the validator
	// and of its schema (secgwd passes its executable's build ID). When
	// set, Open skips the full validation of a stored configuration
	// that a seal written under the same RulesID proves valid (seal.go);
	// empty, Open always validates.
	RulesID string

	// crashPoint is set by this package's crash tests only.
	crashPoint crashPoint
}

// Store holds the datastores. Its methods are safe for concurrent use;
// commits and edits are serialized, reads (View) run in parallel.
type Store struct {
	// stats count the transactions to running (CommitStats).
	stats commitStats

	opt Options

	mu sync.RWMutex
	// running is never written into once Open returns: a commit
	// replaces it by the candidate (transact).
	running *generated.Device
	// published is running for the readers that must not wait for a
	// commit (Snapshot, View): set when a commit is complete.
	published atomic.Pointer[version]
	// handedOut is the newest version of running that a reader was
	// given (current): older versions may be reused once replaced.
	handedOut atomic.Uint64
	// versions counts the versions of running published.
	versions uint64
	// candShared is set when readers were given the candidate
	// (Snapshot): the version it becomes at the next commit is theirs.
	candShared bool
	// candidate is running itself when journal is empty; otherwise a
	// tree that shares with running every node the edits did not touch.
	candidate *generated.Device
	journal   *schema.Journal // the candidate's changes since the last commit
	editor    uint32          // session that modified the candidate
	locks     map[Datastore]uint32
	subs      []Subscriber
	commits   uint64 // last commit id
	history   []*commitRecord
	confirm   *pendingConfirm
	wal       *wal
	journaled int // commits in the journal file since the last snapshot
	// recovered says what Open did about an invalid stored
	// configuration (recover.go).
	recovered string
	// migrated says what Open carried from an earlier model (Migrated).
	migrated string
	// gen counts the write locks taken (lockW): the version of the
	// candidate for the copies that Snapshot caches.
	gen  uint64
	snap snapshots
	// replayed holds the commit records Open replayed from the journal,
	// until loadHistory has put back those the history lacks.
	replayed []*commitRecord
}

// Datastore names a datastore.
type Datastore string

// The datastores.
const (
	Running   Datastore = "running"
	Candidate Datastore = "candidate"
)

// DefaultSnapshotBytes is the default Options.SnapshotBytes: 8 MiB of
// journal replay at a restart (about 0.3 s at 10k VPNs on two cores).
const DefaultSnapshotBytes = 8 << 20

const (
	runningFile = "running.json"
	walFile     = "journal"
)

// Open loads running from opt.Dir — the snapshot, then the journal's
// commits after it — and validates it. On first start running is an empty
// configuration with vrf main.
//
// A confirmed commit that was still pending when the process stopped is
// reverted here, before any subscriber sees the configuration: RFC 6241
// §8.4.1, "If the device reboots for any reason before the confirm
// timeout expires, the server MUST restore the configuration to its state
// before the confirmed commit was issued." The sentence makes no
// exception for <persist>, which only lets a confirmed commit outlive its
// session (§8.4.1, and the persist leaf of ietf-netconf): a persistent
// confirmed commit is reverted too. The revert is a commit of its own in
// the journal and the history. If it cannot be made, Open fails rather
// than start from a configuration nobody confirmed.
func Open(opt Options) (*Store, error) {
	if opt.History == 0 {
		opt.History = 50
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SnapshotEvery == 0 {
		opt.SnapshotEvery = 1000
	}
	if opt.SnapshotBytes == 0 {
		opt.SnapshotBytes = DefaultSnapshotBytes
	}
	if err := os.MkdirAll(filepath.Join(opt.Dir, "history"), 0o700); err != nil {
		return nil, fmt.Errorf("datastore: %w", err)
	}
	removeStaleTemps(opt.Dir)
	removeStaleTemps(filepath.Join(opt.Dir, "history"))
	st := &Store{opt: opt, locks: map[Datastore]uint32{}, journal: schema.NewJournal()}
	var pending *pendingConfirm
	b, err := os.ReadFile(filepath.Join(opt.Dir, runningFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("datastore: %w", err)
	}
	b, migrated, err := migrateSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("datastore: %s: %w", filepath.Join(opt.Dir, runningFile), err)
	}
	w, recs, err := openWAL(filepath.Join(opt.Dir, walFile), opt.crashPoint)
	if err != nil {
		return nil, err
	}
	st.wal = w
	// Whether a seal proves what was read valid (seal.go): its digest is
	// computed on the other CPU while this one decodes.
	isSealed := make(chan bool, 1)
	go func() { isSealed <- sealed(opt.Dir, opt.RulesID, b, recs) }()
	if b == nil {
		st.running = &generated.Device{}
		st.running.GetOrCreateVrf("main")
	} else if st.running, st.commits, pending, err = decodeSnapshot(opt.Schema, b, true); err != nil {
		<-isSealed
		w.close()
		return nil, fmt.Errorf("datastore: %s: %w", filepath.Join(opt.Dir, runningFile), err)
	}
	if pending, err = st.replay(recs, pending); err != nil {
		w.close()
		return nil, err
	}
	if migrated || st.migrated != "" {
		st.migrated = legacyNACM
	}
	st.candidate = st.running
	st.publish()
	if err := st.loadHistory(); err != nil {
		w.close()
		return nil, err
	}
	var invalid error
	// A configuration carried from an earlier model is validated
	// again, whatever its seal says.
	if isValid := <-isSealed; !isValid || st.migrated != "" {
		invalid = opt.Validator.Validate(st.running)
		// Sealed (with these rules) once valid; unsealed otherwise, so
		// that no seal of other rules covers what this process journals
		// (a recovery or a revert below is a commit).
		var serr error
		if invalid == nil && pending == nil {
			serr = writeSeal(opt.Dir, opt.RulesID, b, recs)
		} else {
			serr = removeSeal(opt.Dir)
		}
		if serr != nil {
			w.close()
			return nil, serr
		}
	}
	if invalid != nil {
		if pending != nil {
			// Going back to a valid configuration ends it.
			if pending.timer != nil {
				pending.timer.Stop()
			}
			pending = nil
			st.confirm = nil
		}
		if err := st.recoverValid(invalid); err != nil {
			w.close()
			return nil, err
		}
	}
	if pending != nil {
		if err := st.revertLocked(pending, "restart before it was confirmed"); err != nil {
			w.close()
			return nil, fmt.Errorf("datastore: a confirmed commit was pending at the last stop and cannot be reverted: %w", err)
		}
	}
	if st.migrated != "" {
		// Stored in the current form once (legacy.go): the next start
		// carries nothing.
		st.snapshot()
	}
	return st, nil
}

// Close releases the journal file.
func (st *Store) Close() error {
	st.lockW()
	defer st.mu.Unlock()
	if st.confirm != nil && st.confirm.timer != nil {
		st.confirm.timer.Stop()
	}
	return st.wal.close()
}

// Subscribe adds a subscriber; subscribers are prepared and applied in the
// order they were added, and aborted in reverse order.
func (st *Store) Subscribe(s Subscriber) {
	st.lockW()
	defer st.mu.Unlock()
	st.subs = append(st.subs, s)
}

// View calls fn with the running configuration of the last complete
// commit, without waiting for one in progress. fn must not modify it;
// it may keep it (see Snapshot).
func (st *Store) View(fn func(running *generated.Device)) {
	fn(st.current())
}

// ViewCandidate is View for the candidate.
func (st *Store) ViewCandidate(fn func(candidate *generated.Device)) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	fn(st.candidate)
}

// Running returns a copy of the running configuration, which the caller
// may modify: a Clone, whose cost is the size of the configuration.
// Snapshot(Running) costs nothing, for a caller that only reads.
func (st *Store) Running() *generated.Device {
	return Clone(st.current())
}

// Candidate returns a copy of the candidate configuration.
func (st *Store) Candidate() *generated.Device {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return Clone(st.candidate)
}

// Dirty reports whether the candidate holds uncommitted changes.
func (st *Store) Dirty() bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.journal.Len() > 0
}

// Edit runs fn on the candidate for session: fn changes the tree through
// root (a journaled node; every change must go through schema.Node
// methods). If fn fails, its changes are undone and the candidate is as
// before the call.
func (st *Store) Edit(session uint32, fn func(root schema.Node) error) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	mark := st.journal.Mark()
	if err := fn(st.editRoot()); err != nil {
		st.journal.Undo(mark)
		return err
	}
	if st.journal.Len() > mark {
		st.editor = session
	}
	return nil
}

// EditAndValidate is Edit, then a validation of what the candidate now
// differs from running in; an invalid result is undone and the validation
// errors returned.
func (st *Store) EditAndValidate(session uint32, fn func(root schema.Node) error) error {
	return st.EditAndCheck(session, fn, nil)
}

// EditAndCheck is EditAndValidate refusing the edit only for the
// validation errors that refuse says are errors at edit time (nil: all of
// them). What the candidate differs from running in is validated in full,
// change by change, and the errors refuse does not keep are left for
// Validate and Commit: NETCONF's test-then-set on the candidate checks
// types, ranges and patterns, and defers leafrefs, must, mandatory and
// the like to commit time (RFC 7950 §8.3.3).
func (st *Store) EditAndCheck(session uint32, fn func(root schema.Node) error, refuse func(*validate.Error) bool) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	mark := st.journal.Mark()
	if err := fn(st.editRoot()); err != nil {
		st.journal.Undo(mark)
		return err
	}
	changes := diffJournal(st.opt.Schema, st.running, st.candidate, st.journal)
	var err error
	if refuse == nil {
		err = st.validateChanges(changes)
	} else {
		err = st.checkChanges(changes, refuse)
	}
	if err != nil {
		st.journal.Undo(mark)
		return err
	}
	if st.journal.Len() > mark {
		st.editor = session
	}
	return nil
}

// checkChanges validates every change (all of them: the errors of the
// first change may all be deferred ones) and returns the errors refuse
// keeps, as validate.Errors, or nil.
func (st *Store) checkChanges(changes []Change, refuse func(*validate.Error) bool) error {
	var all []error
	if len(changes) > 256 {
		all = append(all, st.opt.Validator.Validate(st.candidate))
	} else {
		for _, c := range changes {
			all = append(all, st.opt.Validator.ValidateChange(st.candidate, c.Path))
		}
	}
	var kept validate.Errors
	seen := map[validate.Error]bool{} // changes may recheck the same constraint
	for _, err := range all {
		var ve validate.Errors
		switch {
		case err == nil:
		case errors.As(err, &ve):
			for _, e := range ve {
				if refuse(e) && !seen[*e] {
					seen[*e] = true
					kept = append(kept, e)
				}
			}
		default:
			return err
		}
	}
	if kept == nil {
		return nil
	}
	return kept
}

// Discard drops the candidate's changes (discard-changes, RFC 6241 §8.3.4.2).
func (st *Store) Discard(session uint32) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	st.discardLocked()
	return nil
}

// discardLocked makes the candidate running again: the candidate's
// changes were made on copies of the nodes they touched (editRoot), which
// are dropped; running was never written into.
func (st *Store) discardLocked() {
	st.journal.Reset()
	st.candidate = st.running
	st.candShared = false
	st.editor = 0
}

// editRoot returns the candidate's root for an edit through the journal.
// The candidate shares every node it has not changed with running and
// with the snapshots readers hold; the journal copies a node before the
// edit writes into it (schema's cow.go), starting with the root.
func (st *Store) editRoot() schema.Node {
	st.candidate = st.journal.Own(st.candidate)
	return st.opt.Schema.JournaledRoot(st.candidate, st.journal)
}

// Validate validates the candidate (the validate operation).
func (st *Store) Validate() error {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.opt.Validator.Validate(st.candidate); err != nil {
		return err
	}
	if st.opt.Check != nil {
		changes := diffJournal(st.opt.Schema, st.running, st.candidate, st.journal)
		return st.opt.Check(st.candidate, changes)
	}
	return nil
}
