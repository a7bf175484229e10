package datastore

import (
	"testing"
)

// TestSnapshot checks that a snapshot is a copy that later edits and
// commits leave alone, that it is shared until the datastore changes, and
// that the candidate's shows its uncommitted changes.
func TestSnapshot(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	get := func(ds Datastore) uint8 {
		return st.Snapshot(ds).Vrf["main"].GetIke().GetGlobalOptions().GetRetransmitTries()
	}
	r0 := st.Snapshot(Running)
	if st.Snapshot(Running) != r0 || st.Snapshot(Candidate) != r0 {
		t.Fatal("without a change, running and a clean candidate must share one copy")
	}
	if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")); err != nil {
		t.Fatal(err)
	}
	if get(Candidate) != 3 || get(Running) == 3 {
		t.Fatalf("after an edit: candidate %d, running %d", get(Candidate), get(Running))
	}
	c1 := st.Snapshot(Candidate)
	if st.Snapshot(Candidate) != c1 {
		t.Error("an unchanged candidate must give the same copy")
	}
	if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 4")); err != nil {
		t.Fatal(err)
	}
	if c1.Vrf["main"].Ike.GlobalOptions.GetRetransmitTries() != 3 || get(Candidate) != 4 {
		t.Error("an edit must not reach an earlier candidate copy, and must reach the next")
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	if r0.Vrf["main"].GetIke().GetGlobalOptions().GetRetransmitTries() == 4 {
		t.Error("a commit reached an earlier running copy")
	}
	if get(Running) != 4 || st.Snapshot(Candidate) != st.Snapshot(Running) {
		t.Errorf("after commit: running %d; clean candidate shares running's copy: %v", get(Running), st.Snapshot(Candidate) == st.Snapshot(Running))
	}
}

// TestSnapshotDoesNotBlockWriters checks that a reader working on a
// snapshot holds no lock: a commit goes through meanwhile.
func TestSnapshotDoesNotBlockWriters(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	snap := st.Snapshot(Running)
	done := make(chan error)
	go func() {
		if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")); err != nil {
			done <- err
			return
		}
		done <- st.Commit(CommitOptions{Session: 1})
	}()
	// The "reader" still holds snap and works on it.
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if snap.Vrf["main"].GetIke().GetGlobalOptions().GetRetransmitTries() == 3 {
		t.Error("the commit changed the reader's snapshot")
	}
}
