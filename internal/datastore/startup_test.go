package datastore

import (
	"errors"
	"testing"

	"secgw/internal/rpcerr"
)

// TestStartup: running saved to startup is what the next boot runs
// (RFC 6241 §8.7.1), commits after the save are not copied to startup by
// themselves, the candidate can be loaded from startup, a lock of startup
// keeps other sessions from saving or deleting it, and without a startup
// copy a boot keeps running as journaled.
func TestStartup(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	if _, ok, err := st.StartupConfig(); ok || err != nil {
		t.Fatalf("a fresh store has a startup: %v %v", ok, err)
	}
	if err := st.LoadStartup(1); err == nil {
		t.Fatal("loaded a startup that does not exist")
	}
	commitThreads := func(st *Store, n int) {
		t.Helper()
		if err := st.Edit(1, setThreads(n)); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
	commitThreads(st, 3)
	if err := st.SaveStartup(1); err != nil {
		t.Fatal(err)
	}
	commitThreads(st, 4)
	if d, ok, err := st.StartupConfig(); !ok || err != nil || threads(d) != 3 {
		t.Fatalf("startup after a later commit: ok=%v err=%v", ok, err)
	}
	// The candidate loads startup; discarding goes back to running.
	if err := st.LoadStartup(1); err != nil {
		t.Fatal(err)
	}
	if got := threads(st.Candidate()); got != 3 || !st.Dirty() {
		t.Fatalf("candidate after loading startup: threads %d, dirty %v", got, st.Dirty())
	}
	if err := st.Discard(1); err != nil {
		t.Fatal(err)
	}
	// A lock of startup is for its holder.
	if err := st.Lock(Startup, 2); err != nil {
		t.Fatal(err)
	}
	var de *rpcerr.Error
	if err := st.SaveStartup(1); !errors.As(err, &de) || de.Tag != "in-use" {
		t.Fatalf("save while another session holds startup's lock: %v", err)
	}
	if err := st.DeleteStartup(1); !errors.As(err, &de) || de.Tag != "in-use" {
		t.Fatalf("delete while another session holds startup's lock: %v", err)
	}
	if err := st.Unlock(Startup, 2); err != nil {
		t.Fatal(err)
	}
	crash(st)

	// The boot runs startup, by a commit of its own.
	st = open(t, dir)
	if got := threads(st.Running()); got != 4 {
		t.Fatalf("before the boot's load: threads %d", got)
	}
	changed, err := st.BootFromStartup()
	if err != nil || !changed || threads(st.Running()) != 3 || st.Dirty() {
		t.Fatalf("boot from startup: changed=%v err=%v threads=%d", changed, err, threads(st.Running()))
	}
	if changed, err := st.BootFromStartup(); changed || err != nil {
		t.Fatalf("a second boot load changed running: %v %v", changed, err)
	}
	h := st.History()
	if last := h[len(h)-1]; last.Comment != "boot: running loaded from startup" {
		t.Fatalf("last commit %+v", last)
	}
	commitThreads(st, 5)
	if err := st.DeleteStartup(1); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteStartup(1); err != nil {
		t.Fatalf("deleting an absent startup: %v", err)
	}
	crash(st)

	// No startup: running as journaled.
	st = open(t, dir)
	if changed, err := st.BootFromStartup(); changed || err != nil || threads(st.Running()) != 5 {
		t.Fatalf("boot without startup: changed=%v err=%v threads=%d", changed, err, threads(st.Running()))
	}
	crash(st)
}
