package datastore

import (
	"strings"
	"testing"

	"secgw/internal/schema"
)

// commitUnchecked commits the candidate without validation, as a defect
// of the incremental validation once did: the way an invalid
// configuration reaches the disk.
func commitUnchecked(t *testing.T, st *Store) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	changes := DiffTouched(st.opt.Schema, st.running, st.candidate, st.journal.Touched())
	if _, err := st.transact(changes, "admin", "unchecked", 1, false); err != nil {
		t.Fatal(err)
	}
	st.journal.Reset()
	st.editor = 0
}

func deleteVRF(name string) func(schema.Node) error {
	return func(root schema.Node) error {
		_, err := root.DeleteEntry(tSchema, root.B.Field("vrf"), name)
		return err
	}
}

// TestInvalidStoredConfigRecovers: a stored running configuration that
// does not validate (vrf main deleted) does not stop the store from
// opening: it goes back to the newest valid configuration of the
// history, commits it with a comment saying so, and Recovered says it.
func TestInvalidStoredConfigRecovers(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	for _, tries := range []string{"3", "4"} {
		if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries "+tries)); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Edit(1, deleteVRF("main")); err != nil {
		t.Fatal(err)
	}
	commitUnchecked(t, st) // commit 3: no vrf main
	st.Close()

	st = open(t, dir)
	if got := retries(st.Running()); got != 4 {
		t.Fatalf("after recovery retransmit-tries = %d, want 4 (commit 2)", got)
	}
	msg := st.Recovered()
	if !strings.Contains(msg, "commit 3 is not valid") || !strings.Contains(msg, "the configuration of commit 2") {
		t.Fatalf("Recovered() = %q", msg)
	}
	h := st.History()
	if last := h[len(h)-1]; last.ID != 4 || !strings.Contains(last.Comment, "restart:") {
		t.Fatalf("last history record %+v, want commit 4 saying why", last)
	}
	st.Close()
	// The recovery is a commit like any other: the next start is clean.
	if st = open(t, dir); st.Recovered() != "" || retries(st.Running()) != 4 {
		t.Fatalf("second restart: recovered %q, retries %d", st.Recovered(), retries(st.Running()))
	}
}

// TestInvalidStoredConfigWithoutHistory: with no valid configuration in
// the history the store starts from the factory configuration.
func TestInvalidStoredConfigWithoutHistory(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	if err := st.Edit(1, deleteVRF("main")); err != nil {
		t.Fatal(err)
	}
	commitUnchecked(t, st)
	st.Close()
	st = open(t, dir)
	if st.Running().Vrf["main"] == nil || !strings.Contains(st.Recovered(), "factory configuration") {
		t.Fatalf("recovered %q, vrfs %v", st.Recovered(), st.Running().Vrf)
	}
}

// TestDeleteVRFMainRefused: deleting vrf main is refused by commit as by
// validate (the incremental validation once skipped that rule).
func TestDeleteVRFMainRefused(t *testing.T) {
	st := open(t, t.TempDir())
	if err := st.Edit(1, deleteVRF("main")); err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(); err == nil {
		t.Fatal("validate accepted a configuration without vrf main")
	}
	if err := st.Commit(CommitOptions{Session: 1}); err == nil || !strings.Contains(err.Error(), "vrf main must exist") {
		t.Fatalf("commit: %v, want the vrf main error", err)
	}
	if st.Running().Vrf["main"] == nil {
		t.Fatal("running lost vrf main")
	}
}
