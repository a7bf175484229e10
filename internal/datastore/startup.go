package datastore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"secgw/generated"
	"secgw/internal/rpcerr"
)

// The startup datastore (RFC 6241 §8.7, :startup): a copy of running that
// an operator saves on purpose (copy-config running to startup, vSR's
// "copy running startup"), and that the device loads when it boots
// (BootFromStartup). Running stays journaled at every commit, so that a
// crash loses nothing committed; once a startup copy exists, a boot makes
// running that copy again, and "operations that affect the running
// configuration will not be automatically copied to the startup
// configuration" (§8.7.1). With no startup copy (never saved, or deleted
// with delete-config) a boot keeps running as journaled, as secgw always
// did.
//
// The copy is one file in the snapshot format, replaced atomically; it is
// read from disk when asked for (get-config, copy-config to the
// candidate, boot), which is rare.

// Startup names the startup datastore.
const Startup Datastore = "startup"

const startupFile = "startup.json"

func (st *Store) startupPath() string { return filepath.Join(st.opt.Dir, startupFile) }

// SaveStartup copies running to startup for session (copy-config running
// to startup). A lock of startup held by another session refuses it
// (in-use, RFC 6241 §7.5).
func (st *Store) SaveStartup(session uint32) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Startup, session); err != nil {
		return err
	}
	b, err := encodeSnapshot(st.opt.Schema, st.running, st.commits, nil)
	if err == nil {
		err = writeAtomic(st.startupPath(), b, st.opt.crashPoint)
	}
	if err != nil {
		return fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot save running as startup: " + err.Error(), Err: err})
	}
	return nil
}

// StartupConfig returns a copy of startup; ok is false when there is none.
func (st *Store) StartupConfig() (d *generated.Device, ok bool, err error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.readStartup()
}

func (st *Store) readStartup() (*generated.Device, bool, error) {
	b, err := os.ReadFile(st.startupPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot read startup: " + err.Error(), Err: err})
	}
	var d *generated.Device
	if b, _, err = migrateSnapshot(b); err == nil { // an earlier release's startup (legacy.go)
		d, _, _, err = decodeSnapshot(st.opt.Schema, b, false)
	}
	if err != nil {
		return nil, false, fail(rpcerr.Error{Tag: "operation-failed", Message: fmt.Sprintf("%s: %v", st.startupPath(), err), Err: err})
	}
	return d, true, nil
}

// DeleteStartup deletes startup (delete-config, RFC 6241 §7.4): the next
// boot keeps running as journaled. Deleting a startup that does not exist
// is no error.
func (st *Store) DeleteStartup(session uint32) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Startup, session); err != nil {
		return err
	}
	err := os.Remove(st.startupPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = syncDir(st.opt.Dir)
	}
	if err != nil {
		return fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot delete startup: " + err.Error(), Err: err})
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadStartup replaces the candidate with startup, as session's edit
// (copy-config startup to candidate): the candidate's uncommitted changes
// go, as with any copy-config to it; a commit makes it running.
func (st *Store) LoadStartup(session uint32) error {
	st.lockW()
	defer st.mu.Unlock()
	if err := st.checkLock(Candidate, session); err != nil {
		return err
	}
	d, ok, err := st.readStartup()
	if err != nil {
		return err
	}
	if !ok {
		return fail(rpcerr.Error{Tag: "data-missing", Message: "there is no startup configuration: copy-config running to startup saves one"})
	}
	return st.loadLocked(session, d)
}

// loadLocked makes the candidate d, through the journal, so that a commit
// sees exactly what differs from running.
func (st *Store) loadLocked(session uint32, d *generated.Device) error {
	st.discardLocked()
	s := st.opt.Schema
	fwd, _, err := opsFor(s, s.RootNode(st.running), s.RootNode(d), Diff(s, st.running, d))
	if err == nil {
		err = applyOps(s, st.editRoot(), fwd)
	}
	if err != nil {
		st.discardLocked()
		return fail(rpcerr.Error{Tag: "operation-failed", Message: "cannot load startup: " + err.Error(), Err: err})
	}
	if st.journal.Len() > 0 {
		st.editor = session
	}
	return nil
}

// BootFromStartup makes running the startup configuration, if there is
// one and it differs, by a commit of its own ("boot: running loaded from
// startup") — what a device does when it boots (RFC 6241 §8.7.1). The
// daemon calls it once after Open, before any subscriber is attached, so
// that the subsystems start from it. It reports whether running changed;
// on an error (a startup copy that does not validate any more, say)
// running stays as journaled.
func (st *Store) BootFromStartup() (bool, error) {
	st.lockW()
	defer st.mu.Unlock()
	d, ok, err := st.readStartup()
	if err != nil || !ok {
		return false, err
	}
	if err := st.loadLocked(0, d); err != nil {
		return false, err
	}
	_, err = st.commitLocked("", "boot: running loaded from startup", 0, false)
	switch {
	case errors.Is(err, errNoChanges):
		return false, nil
	case err != nil:
		st.discardLocked()
		return false, err
	}
	st.snapshotIfDue()
	return true, nil
}
